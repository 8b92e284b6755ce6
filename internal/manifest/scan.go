package manifest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ignoredSuffixes are backup and temporary files left by editors and
// package managers. The kubelet loads pod.yaml~ or pod.yaml.bak as a second
// copy of the pod (kubernetes#136931); minikubelet does not.
var ignoredSuffixes = []string{"~", ".swp", ".tmp", ".bak", ".orig"}

// Ignored reports whether a file of the manifest directory, given by its
// base name, is skipped: hidden files (".pod.yaml.swp", editors' lock files),
// backups and temporaries (~, .swp, .tmp, .bak, .orig), package manager
// leftovers (.dpkg-old, .dpkg-new, .dpkg-dist, .rpmnew, .rpmsave, ...), and
// anything whose extension is not .yaml, .yml or .json (any case).
func Ignored(name string) bool {
	if name == "" || strings.HasPrefix(name, ".") {
		return true
	}
	lower := strings.ToLower(name)
	for _, s := range ignoredSuffixes {
		if strings.HasSuffix(lower, s) {
			return true
		}
	}
	// Anywhere in the name, not only at the end: "pod.dpkg-new.yaml" is
	// still a package manager's copy. Any other ".rpm*" suffix falls to the
	// extension rule below.
	for _, marker := range []string{".dpkg-", ".rpmnew", ".rpmsave", ".rpmorig"} {
		if strings.Contains(lower, marker) {
			return true
		}
	}
	switch filepath.Ext(lower) {
	case ".yaml", ".yml", ".json":
		return false
	}
	return true
}

// Scan reads every file of dir that is not Ignored, in file name order (the
// directory is not read recursively), and resolves duplicates: when two
// documents define the same namespace/name, the first in file name order
// (then document order) wins and the later one gets a Problem naming the
// winner's file.
//
// err is set only when the directory itself cannot be read; it wraps the
// os error, so errors.Is(err, fs.ErrNotExist) tells a missing directory.
func Scan(dir, nodeName string) (pods []Pod, problems []Problem, err error) {
	return scan(dir, nodeName, nil)
}

// scan is Scan, parsing through cache when it is not nil.
func scan(dir, nodeName string, cache *parseCache) (pods []Pod, problems []Problem, err error) {
	entries, err := os.ReadDir(dir) // sorted by file name
	if err != nil {
		return nil, nil, fmt.Errorf("read manifest directory: %w", err)
	}
	winners := map[string]Pod{}
	for _, e := range entries {
		if Ignored(e.Name()) {
			continue
		}
		filePods, fileProblems := loadFile(filepath.Join(dir, e.Name()), nodeName, cache)
		problems = append(problems, fileProblems...)
		for _, p := range filePods {
			key := p.Key()
			if w, ok := winners[key]; ok {
				problems = append(problems, duplicate(p, w, dir))
				continue
			}
			winners[key] = p
			pods = append(pods, p)
		}
	}
	cache.endScan()
	return pods, problems, nil
}

func duplicate(loser, winner Pod, dir string) Problem {
	where := winner.File
	if winner.Doc > 0 {
		where = fmt.Sprintf("%s (document %d)", winner.File, winner.Doc+1)
	}
	return Problem{
		// Problem.File is the path as the caller spelled it, like the
		// problems LoadFile reports for the same file.
		File:   filepath.Join(dir, filepath.Base(loser.File)),
		Doc:    loser.Doc,
		Field:  "metadata.name",
		Reason: fmt.Sprintf("pod %q is already defined in %s; this document is ignored (the first file in name order wins)", loser.Key(), where),
	}
}
