package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

// record is the daemon's own note of an attachment, written before the
// ADD and removed once the sandbox is detached. libcni caches an
// attachment only after the whole ADD succeeded; a daemon killed during
// the ADD (or one whose rollback DEL failed) leaves addresses and port
// mappings that only this note can DEL, with the same configuration,
// arguments and port mappings as the ADD.
type record struct {
	Config         json.RawMessage        `json:"config"`
	IfName         string                 `json:"ifName"`
	Args           [][2]string            `json:"args,omitempty"`
	CapabilityArgs map[string]interface{} `json:"capabilityArgs,omitempty"`
}

const recordExt = ".json"

func (n *Network) recordPath(id string) string {
	return filepath.Join(n.records, id+recordExt)
}

// writeRecord notes the attachment of sandbox id, durably: written to a
// temporary file, synced and renamed into place.
func (n *Network) writeRecord(id string, rt *libcni.RuntimeConf) error {
	if id == "" || strings.ContainsAny(id, `/\`) || strings.HasPrefix(id, ".") {
		return fmt.Errorf("record cni attachment: bad sandbox id %q", id)
	}
	data, err := json.Marshal(record{Config: n.list.Bytes, IfName: rt.IfName, Args: rt.Args, CapabilityArgs: rt.CapabilityArgs})
	if err != nil {
		return fmt.Errorf("record cni attachment of %s: %w", id, err)
	}
	if err := os.MkdirAll(n.records, 0o700); err != nil {
		return fmt.Errorf("record cni attachment of %s: %w", id, err)
	}
	f, err := os.CreateTemp(n.records, ".tmp-"+id+"-")
	if err != nil {
		return fmt.Errorf("record cni attachment of %s: %w", id, err)
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, n.recordPath(id))
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("record cni attachment of %s: %w", id, werr)
	}
	return nil
}

// readRecord returns the record of sandbox id, or nil when there is none.
func (n *Network) readRecord(id string) (*record, error) {
	data, err := os.ReadFile(n.recordPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cni attachment record of %s: %w", id, err)
	}
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("cni attachment record %s: %w", n.recordPath(id), err)
	}
	return &r, nil
}

// delRecorded DELs the attachment a record describes.
func (n *Network) delRecorded(ctx context.Context, id, netns string, r *record) error {
	list, err := libcni.ConfListFromBytes(r.Config)
	if err != nil {
		return fmt.Errorf("cni attachment record %s: %w", n.recordPath(id), err)
	}
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: r.IfName, Args: r.Args, CapabilityArgs: r.CapabilityArgs}
	if err := n.cni.DelNetworkList(ctx, list, rt); err != nil {
		return fmt.Errorf("cni del from network %q (recorded attachment): %w", list.Name, err)
	}
	return nil
}

func (n *Network) removeRecord(id string) error {
	if err := os.Remove(n.recordPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove cni attachment record of %s: %w", id, err)
	}
	return nil
}

// recordIDs lists the sandboxes with a record.
func (n *Network) recordIDs() ([]string, error) {
	entries, err := os.ReadDir(n.records)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cni attachment records: %w", err)
	}
	var ids []string
	for _, e := range entries {
		name := e.Name()
		// ".tmp-" files are writes under way or never finished (the ADD
		// had not started): nothing to DEL.
		if id, ok := strings.CutSuffix(name, recordExt); ok && e.Type().IsRegular() && !strings.HasPrefix(name, ".") {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
