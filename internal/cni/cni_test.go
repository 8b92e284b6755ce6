package cni

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/containernetworking/cni/libcni"
	current "github.com/containernetworking/cni/pkg/types/100"
	"go.uber.org/zap/zaptest"
	v1 "k8s.io/api/core/v1"
)

func TestPortMappings(t *testing.T) {
	pod := &v1.Pod{Spec: v1.PodSpec{
		InitContainers: []v1.Container{{Name: "side", Ports: []v1.ContainerPort{{ContainerPort: 53, HostPort: 5353, Protocol: v1.ProtocolUDP}}}},
		Containers: []v1.Container{{Name: "web", Ports: []v1.ContainerPort{
			{ContainerPort: 80, HostPort: 8080},
			{ContainerPort: 443},
			{ContainerPort: 9000, HostPort: 9000, HostIP: "127.0.0.1", Protocol: v1.ProtocolTCP},
		}}},
	}}
	want := []PortMapping{
		{HostPort: 5353, ContainerPort: 53, Protocol: "udp"},
		{HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
		{HostPort: 9000, ContainerPort: 9000, Protocol: "tcp", HostIP: "127.0.0.1"},
	}
	if got := PortMappings(pod); !reflect.DeepEqual(got, want) {
		t.Errorf("PortMappings = %+v, want %+v", got, want)
	}
	if got := PortMappings(&v1.Pod{}); got != nil {
		t.Errorf("no ports: %+v", got)
	}
}

// The shipped file documents what the daemon writes; they must agree.
func TestDefaultConfListMatchesShippedFile(t *testing.T) {
	got, err := DefaultConfList(DefaultPodCIDR, "/var/lib/minikubelet/cni/networks")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../configs/cni/10-minikubelet.conflist")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("configs/cni/10-minikubelet.conflist differs from DefaultConfList:\n%s", got)
	}
	list, err := libcni.ConfListFromBytes(got)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, p := range list.Plugins {
		types = append(types, p.Network.Type)
	}
	if !reflect.DeepEqual(types, []string{"bridge", "portmap"}) || list.Name != DefaultNetworkName {
		t.Errorf("default network %q plugins %v", list.Name, types)
	}
	if _, err := DefaultConfList("not-a-cidr", "/x"); err == nil {
		t.Error("bad cidr accepted")
	}
}

func TestNewChoosesNetwork(t *testing.T) {
	bin := t.TempDir()
	for _, p := range []string{"bridge", "portmap", "ptp"} {
		if err := os.WriteFile(filepath.Join(bin, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	state := t.TempDir()
	log := zaptest.NewLogger(t)

	// No configuration: the default network, written under the state dir.
	nw, err := New(Options{BinDirs: []string{bin}, ConfDir: filepath.Join(t.TempDir(), "missing"), StateDir: state, PodCIDR: "10.250.0.0/16", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if nw.Name() != DefaultNetworkName || nw.Source != filepath.Join(state, "net.d", "10-minikubelet.conflist") {
		t.Errorf("default network %q from %s", nw.Name(), nw.Source)
	}
	data, err := os.ReadFile(nw.Source)
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Plugins []struct {
			IPAM struct {
				Ranges  [][]struct{ Subnet string }
				DataDir string `json:"dataDir"`
			}
		}
	}
	if err := json.Unmarshal(data, &parsed); err != nil {
		t.Fatal(err)
	}
	if ipam := parsed.Plugins[0].IPAM; ipam.Ranges[0][0].Subnet != "10.250.0.0/16" || ipam.DataDir != filepath.Join(state, "networks") {
		t.Errorf("default ipam %+v", ipam)
	}

	// The first configuration in name order wins; a .conf is wrapped.
	conf := t.TempDir()
	os.WriteFile(filepath.Join(conf, "20-b.conflist"), []byte(`{"cniVersion":"1.0.0","name":"b","plugins":[{"type":"bridge"}]}`), 0o644)
	os.WriteFile(filepath.Join(conf, "10-a.conf"), []byte(`{"cniVersion":"1.0.0","name":"a","type":"ptp"}`), 0o644)
	nw, err = New(Options{BinDirs: []string{bin}, ConfDir: conf, StateDir: state, Logger: log})
	if err != nil || nw.Name() != "a" {
		t.Fatalf("New = %v, %v; want network a", nw, err)
	}

	// A missing plugin is ErrNoPlugins.
	os.WriteFile(filepath.Join(conf, "05-c.conflist"), []byte(`{"cniVersion":"1.0.0","name":"c","plugins":[{"type":"macvlan"}]}`), 0o644)
	if _, err := New(Options{BinDirs: []string{bin}, ConfDir: conf, StateDir: state, Logger: log}); !errors.Is(err, ErrNoPlugins) {
		t.Errorf("missing plugin: %v, want ErrNoPlugins", err)
	}
	// Teardown of a sandbox that was never attached does nothing.
	if err := nw.Teardown(context.Background(), "nope", ""); err != nil {
		t.Errorf("Teardown of unknown sandbox: %v", err)
	}
}

func TestResultIP(t *testing.T) {
	r := &current.Result{CNIVersion: "1.0.0"}
	if _, err := resultIP(r); err == nil {
		t.Error("empty result accepted")
	}
	r6, _ := current.NewResultFromResult(mustResult(t, `{"cniVersion":"1.0.0","ips":[{"address":"fd00::5/64"},{"address":"10.1.2.3/24"}]}`))
	if ip, err := resultIP(r6); err != nil || ip != "10.1.2.3" {
		t.Errorf("resultIP = %q, %v; want the IPv4 address", ip, err)
	}
}

func mustResult(t *testing.T, s string) *current.Result {
	t.Helper()
	var r current.Result
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}
