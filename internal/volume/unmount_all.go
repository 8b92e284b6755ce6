package volume

// UnmountAll detaches every mount at or below dir (deepest first) and
// fails if any is left, so that a removal of dir that follows cannot reach
// through a bind mount into another directory. A missing dir has nothing
// mounted. dir is resolved through symlinks first: callers that must not
// follow one (a pod directory replaced by a link) check it themselves.
func UnmountAll(dir string) error { return unmountUnder(dir) }
