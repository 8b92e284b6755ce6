package manifest

import (
	"os"
	"syscall"
	"time"
)

// settleTime is how long before a read a file must have last changed for
// its parse to be cached. A file changed within it could change again
// within the same timestamp tick (two seconds on FAT) and keep its size,
// so its key would not show the change.
const settleTime = 2 * time.Second

// parseCache keeps the parse of each file of the last scan, so that the
// periodic rescan does not parse unchanged files again. A file is known
// unchanged by its identity (device, inode) and its size, mtime and ctime:
// a writer can restore the mtime but not the ctime, which the kernel sets
// on every change. A nil *parseCache caches nothing.
type parseCache struct {
	now     func() time.Time
	hits    int                   // files served from the cache, for tests
	entries map[string]cacheEntry // the last scan's
	next    map[string]cacheEntry // this scan's
}

type cacheKey struct {
	dev, ino, size uint64
	mtime, ctime   int64 // ns
}

type cacheEntry struct {
	key      cacheKey
	pods     []Pod
	problems []Problem
}

func newParseCache() *parseCache {
	return &parseCache{now: time.Now, entries: map[string]cacheEntry{}, next: map[string]cacheEntry{}}
}

// endScan forgets the files the scan did not read.
func (c *parseCache) endScan() {
	if c == nil {
		return
	}
	c.entries, c.next = c.next, map[string]cacheEntry{}
}

func keyOf(st os.FileInfo) (cacheKey, bool) {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return cacheKey{}, false
	}
	return cacheKey{
		dev: uint64(sys.Dev), ino: sys.Ino, size: uint64(sys.Size),
		mtime: sys.Mtim.Nano(), ctime: sys.Ctim.Nano(),
	}, true
}

// get returns copies of the cached parse of path if the file is unchanged.
func (c *parseCache) get(path string, st os.FileInfo) ([]Pod, []Problem, bool) {
	if c == nil {
		return nil, nil, false
	}
	k, ok := keyOf(st)
	e, hit := c.entries[path]
	if !ok || !hit || e.key != k {
		return nil, nil, false
	}
	c.next[path] = e
	c.hits++
	pods := make([]Pod, len(e.pods))
	for i, p := range e.pods {
		p.Pod = p.Pod.DeepCopy()
		pods[i] = p
	}
	return pods, append([]Problem(nil), e.problems...), true
}

// time is the time before a file is opened, to pass to put (zero for a
// nil cache).
func (c *parseCache) time() time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.now()
}

// put remembers a parse of path, stat'ed as st after openedAt, unless the
// file changed less than settleTime before openedAt: a later change could
// then leave every part of the key as it was.
func (c *parseCache) put(path string, st os.FileInfo, openedAt time.Time, pods []Pod, problems []Problem) {
	if c == nil {
		return
	}
	k, ok := keyOf(st)
	if !ok || openedAt.Sub(time.Unix(0, max(k.mtime, k.ctime))) < settleTime {
		return
	}
	e := cacheEntry{key: k, pods: make([]Pod, len(pods)), problems: append([]Problem(nil), problems...)}
	for i, p := range pods {
		p.Pod = p.Pod.DeepCopy()
		e.pods[i] = p
	}
	c.next[path] = e
}
