package broker

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// ErrStoreInUse is LockStore's error when another process holds the store's lock.
var ErrStoreInUse = errors.New("in use by another triaged")

// LockStore takes the lock of an embedded server's storage directory, creating the directory:
// two daemons on one store would corrupt it, so the second is refused at once. It also proves
// the directory writable before the server is started, which otherwise fails slowly and
// obscurely. release gives the lock back.
func LockStore(dir string) (release func() error, err error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("--storage.path: cannot create %s: %w", dir, err)
	}
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("--storage.path: %s is not writable: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("--storage.path: %s is %w (it holds %s); give each daemon its own storage path, or share an external NATS with --nats.url", dir, ErrStoreInUse, path)
		}
		return nil, fmt.Errorf("--storage.path: lock %s: %w", path, err)
	}
	return func() error {
		// Closing the file releases the lock; the file stays, empty, for the next start.
		return f.Close()
	}, nil
}
