// The errno values of Linux on x86_64 and aarch64 that pidbox meets. Kept here rather than read from
// koffi.os.errno so that the names are stable and the init pays nothing to build the table.
const NAMES: Record<number, string> = {
  1: 'EPERM', 2: 'ENOENT', 3: 'ESRCH', 4: 'EINTR', 5: 'EIO', 7: 'E2BIG', 8: 'ENOEXEC', 9: 'EBADF',
  10: 'ECHILD', 11: 'EAGAIN', 12: 'ENOMEM', 13: 'EACCES', 14: 'EFAULT', 16: 'EBUSY', 17: 'EEXIST',
  20: 'ENOTDIR', 21: 'EISDIR', 22: 'EINVAL', 24: 'EMFILE', 25: 'ENOTTY', 26: 'ETXTBSY', 28: 'ENOSPC',
  36: 'ENAMETOOLONG', 38: 'ENOSYS', 40: 'ELOOP', 95: 'EOPNOTSUPP',
};

export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const ECHILD = 10;
export const EWOULDBLOCK = 11;

export function errnoName(errno: number): string {
  return NAMES[errno] ?? `E${errno}`;
}

/** The text `strerror` would give for the errors an exec can fail with; a fallback names the code. */
export function errnoText(errno: number): string {
  switch (errno) {
    case 2: return 'No such file or directory';
    case 13: return 'Permission denied';
    case 8: return 'Exec format error';
    case 20: return 'Not a directory';
    case 21: return 'Is a directory';
    case 26: return 'Text file busy';
    case 40: return 'Too many levels of symbolic links';
    default: return errnoName(errno);
  }
}
