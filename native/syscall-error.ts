import { errnoName } from './errno.js';

/**
 * A libc call that failed. `code` is the errno name (`EINVAL`, `EPERM`, …), stable across
 * machines; `errno` is the number this kernel returned.
 */
export class SyscallError extends Error {
  readonly syscall: string;
  readonly errno: number;
  readonly code: string;

  constructor(syscall: string, errno: number, detail?: string) {
    const code = errnoName(errno);
    super(`${syscall}${detail ? `(${detail})` : ''} failed: ${code}`);
    this.name = 'SyscallError';
    this.syscall = syscall;
    this.errno = errno;
    this.code = code;
  }
}
