package spec

import (
	"reflect"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	v1 "k8s.io/api/core/v1"
)

func TestVolumeMounts(t *testing.T) {
	tests := []struct {
		name       string
		privileged bool
		mount      Mount
		wantOpts   []string
		wantRootfs string
		wantErr    string
	}{
		{"read-write", false, Mount{Source: "/v", Destination: "/data"}, []string{"rbind", "rprivate", "rw"}, "", ""},
		{"read-only", false, Mount{Source: "/v", Destination: "/data", ReadOnly: true}, []string{"rbind", "rprivate", "ro"}, "", ""},
		{"recursive read-only", false, Mount{Source: "/v", Destination: "/data", ReadOnly: true, RecursiveReadOnly: true}, []string{"rbind", "rprivate", "rro"}, "", ""},
		{"None", false, Mount{Source: "/v", Destination: "/data", Propagation: v1.MountPropagationNone}, []string{"rbind", "rprivate", "rw"}, "", ""},
		{"HostToContainer", false, Mount{Source: "/v", Destination: "/data", Propagation: v1.MountPropagationHostToContainer}, []string{"rbind", "rslave", "rw"}, "rslave", ""},
		{"Bidirectional privileged", true, Mount{Source: "/v", Destination: "/data", Propagation: v1.MountPropagationBidirectional}, []string{"rbind", "rshared", "rw"}, "rshared", ""},
		{"Bidirectional unprivileged", false, Mount{Volume: "v", Source: "/v", Destination: "/data", Propagation: v1.MountPropagationBidirectional}, nil, "", "only allowed in privileged containers"},
		{"unknown propagation", false, Mount{Source: "/v", Destination: "/data", Propagation: "Sideways"}, nil, "", `unknown mountPropagation "Sideways"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &specs.Spec{Linux: &specs.Linux{}}
			err := volumeMounts(s, []Mount{tt.mount}, tt.privileged)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []specs.Mount{{Destination: "/data", Type: "bind", Source: "/v", Options: tt.wantOpts}}
			if !reflect.DeepEqual(s.Mounts, want) {
				t.Fatalf("mounts %+v, want %+v", s.Mounts, want)
			}
			if s.Linux.RootfsPropagation != tt.wantRootfs {
				t.Errorf("rootfs propagation %q, want %q", s.Linux.RootfsPropagation, tt.wantRootfs)
			}
		})
	}
}

func TestVolumeMountsOrderAndOverrides(t *testing.T) {
	s := &specs.Spec{Linux: &specs.Linux{}, Mounts: []specs.Mount{
		{Destination: "/proc", Type: "proc"},
		{Destination: "/dev", Type: "tmpfs"},
		{Destination: "/dev/pts", Type: "devpts"},
		{Destination: "/etc/hosts", Type: "bind", Source: "/pod/hosts"},
	}}
	err := volumeMounts(s, []Mount{
		{Source: "/deep", Destination: "/data/a/b"},
		{Source: "/hosts", Destination: "/etc/hosts/"},
		{Source: "/top", Destination: "/data"},
		{Source: "/dev-vol", Destination: "/dev"},
	}, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range s.Mounts {
		got = append(got, m.Destination+"="+m.Source)
	}
	// /dev replaces the default /dev and everything below it; the volume
	// at /etc/hosts replaces the pod's file; parents come before children.
	want := []string{"/proc=", "/data=/top", "/dev=/dev-vol", "/etc/hosts/=/hosts", "/data/a/b=/deep"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mounts %q\nwant %q", got, want)
	}
}

func TestContainerSpecWithMounts(t *testing.T) {
	p := testPod()
	s, err := ContainerSpec(Container{ID: "c1", Pod: p, Container: &v1.Container{Name: "c", Command: []string{"sh"}},
		SandboxID: "sb", SandboxPid: 42, NetNSPath: "/netns/sb", HostsPath: "/pod/hosts",
		Mounts: []Mount{{Volume: "v", Source: "/pod/volumes/v", Destination: "/etc/hosts", ReadOnly: true}}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range s.Mounts {
		if m.Destination == "/etc/hosts" {
			n++
			if m.Source != "/pod/volumes/v" {
				t.Errorf("/etc/hosts from %s, want the volume", m.Source)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d mounts at /etc/hosts", n)
	}
}
