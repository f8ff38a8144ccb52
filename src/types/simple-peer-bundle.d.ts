// The prebuilt browser bundle carries no types of its own; it is the same API as the `simple-peer` package.
declare module 'simple-peer/simplepeer.min.js' {
  import SimplePeer from 'simple-peer';
  export default SimplePeer;
}
