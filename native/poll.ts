import { loadKoffi } from './koffi.js';


export interface FdWatch {
  close(): void;
}

/**
 * Calls `onReadable` each time `fd` has data or its peer hung up (libuv's uv_poll, through koffi).
 * The init uses this for its control socket instead of net.Socket: requiring `net` costs ~3 ms at
 * every sandbox start, and the socket stays blocking, so a final message can be written
 * synchronously right before exit.
 */
export function watchReadable(fd: number, onReadable: () => void): FdWatch {
  const handle = loadKoffi().node.poll(fd, { readable: true, disconnect: true }, () => onReadable());
  return { close: () => handle.close() };
}
