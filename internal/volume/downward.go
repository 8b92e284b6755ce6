package volume

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/minikubelet/minikubelet/internal/spec"
)

// writeDownwardAPI writes the files of a downwardAPI (or projected) volume.
// A static pod's metadata never changes while it runs (an edit makes a
// new pod), so the files are written once per sandbox and never updated.
// resourceFieldRef items hold the named container's limit or request.
func writeDownwardAPI(dir string, pod *v1.Pod, items []v1.DownwardAPIVolumeFile, defaultMode int32, fsGroup *int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, it := range items {
		var val string
		var err error
		switch {
		case it.FieldRef != nil:
			val, err = DownwardValue(pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			// In a volume the container is always named (validation).
			val, err = spec.ResourceFieldValue(pod, &v1.Container{}, it.ResourceFieldRef)
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("item %q: %w", it.Path, err)
		}
		p := filepath.Join(dir, it.Path)
		if !within(dir, p) || p == dir {
			return fmt.Errorf("item path %q is outside the volume", it.Path)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(defaultMode) & os.ModePerm
		if it.Mode != nil {
			mode = os.FileMode(*it.Mode) & os.ModePerm
		}
		if fsGroup != nil {
			// The kubelet makes volume files readable by fsGroup.
			mode |= 0o440
		}
		if err := WriteFileAtomic(p, []byte(val), mode, fsGroup); err != nil {
			return err
		}
	}
	if fsGroup != nil {
		return os.Lchown(dir, -1, int(*fsGroup))
	}
	return nil
}

// DownwardValue is the content of a downwardAPI volume file for a
// fieldRef: metadata.name, namespace, uid, labels and annotations (one
// key="value" line each, sorted, as the kubelet formats them) or one
// label or annotation by key.
func DownwardValue(pod *v1.Pod, fieldPath string) (string, error) {
	switch fieldPath {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels['": pod.Labels, "metadata.annotations['": pod.Annotations} {
		if k, ok := strings.CutPrefix(fieldPath, prefix); ok && strings.HasSuffix(k, "']") {
			return m[strings.TrimSuffix(k, "']")], nil
		}
	}
	return "", fmt.Errorf("fieldRef %q is not supported in a downwardAPI volume", fieldPath)
}

// formatMap is the kubelet's fieldpath.FormatMap.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%s=%q", k, m[k])
	}
	return b.String()
}

// WriteFileAtomic replaces path so that a container never reads half a
// file; group, when set, becomes the file's group.
func WriteFileAtomic(path string, data []byte, mode os.FileMode, group *int64) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if group != nil {
		if err := tmp.Chown(-1, int(*group)); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
