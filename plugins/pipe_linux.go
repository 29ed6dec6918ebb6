package plugins

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is the capacity asked for the pipes to a plugin host (the
// default system maximum for unprivileged processes).
const pipeSize = 1 << 20

// pipe returns a pipe enlarged to pipeSize where the system allows it.
func pipe() (r, w *os.File, err error) {
	r, w, err = os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	if rc, err := w.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize) })
	}
	return r, w, nil
}
