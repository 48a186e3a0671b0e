package rules

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watchSettle is how long the watcher waits after the last change before reloading: editors and
// config managers write a file in several steps (truncate, write, rename), and one reload after
// the last step is both cheaper and never sees a half-written file.
const watchSettle = 250 * time.Millisecond

// Watch reloads the engine's rule files whenever one of them changes on disk, until ctx is done.
// It watches the files' directories rather than the files, because editors and Kubernetes
// ConfigMaps replace a file (rename or symlink swap) instead of writing it in place, which would
// silently end a watch on the file itself. An engine on the embedded rules has nothing to watch.
func (e *Engine) Watch(ctx context.Context) error {
	if len(e.files) == 0 {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch rule files: %w", err)
	}
	defer w.Close()
	watched := map[string]bool{} // cleaned absolute paths of the rule files
	for _, f := range e.files {
		abs, err := filepath.Abs(f)
		if err != nil {
			return fmt.Errorf("watch rule file %s: %w", f, err)
		}
		watched[abs] = true
		dir := filepath.Dir(abs)
		if err := w.Add(dir); err != nil {
			return fmt.Errorf("watch directory %s of rule file %s: %w", dir, f, err)
		}
	}
	relevant := func(name string) bool {
		abs, err := filepath.Abs(name)
		if err != nil {
			return false
		}
		// "..data" is the symlink a ConfigMap volume swaps to update every file at once.
		return watched[abs] || strings.HasPrefix(filepath.Base(abs), "..")
	}

	settle := time.NewTimer(time.Hour)
	settle.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op != fsnotify.Chmod && relevant(ev.Name) {
				settle.Reset(watchSettle)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			e.logger.Warn("watching rule files", "err", err)
		case <-settle.C:
			if err := e.Reload(); err == nil {
				e.logger.Info("rule files changed on disk; reloaded", "version", e.Current().Version())
			}
		}
	}
}
