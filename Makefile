# minikubelet build and test entry points. The scripts under hack/ do the
# work; the targets here are the short names people type.

# git describe fails on a clone with no commits or no git at all; "dev" keeps
# the build working there.
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GO ?= go
GOFLAGS_BUILD ?= -trimpath
LDFLAGS := -X github.com/minikubelet/minikubelet/internal/version.Version=$(VERSION)

BIN := bin
OUTPUT := _output
BUSYBOX ?= /bin/busybox

# The e2e packages need root and containerd; unit tests are everything else.
UNIT_PKGS = $(shell $(GO) list ./... | grep -v '/test/e2e')

.PHONY: all build minikubelet logger pause test-unit test e2e bench demo demo-stop images clean install uninstall

all: build

build: minikubelet logger pause

# Always rebuilt: go build is incremental and knows the dependencies better
# than make does.
minikubelet:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -ldflags "$(LDFLAGS)" -o $(BIN)/minikubelet ./cmd/minikubelet

# The per-container log writer the shim starts: small on purpose, since
# there is one process per running container.
logger:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -ldflags "-s -w" -o $(BIN)/minikubelet-logger ./cmd/minikubelet-logger

pause: $(BIN)/minikubelet-pause

# Static so that the sandbox image needs nothing but this one file.
$(BIN)/minikubelet-pause: build/pause/pause.c
	@mkdir -p $(BIN)
	gcc -Os -static -s -o $@ $<

test-unit:
	$(GO) test -timeout 4m $(UNIT_PKGS)

# The whole suite (unit and end-to-end); needs root.
test:
	hack/test.sh

# Only the end-to-end tests (root), without the unit tests.
e2e:
	hack/test.sh e2e

# Benchmarks: they print figures (root, a few minutes); see docs/benchmarks.md.
bench:
	hack/test.sh bench

demo:
	hack/demo.sh

demo-stop:
	hack/demo.sh stop

# Image archives the tests and the demo import (OCI layout, no registry).
images: $(OUTPUT)/busybox-e2e.tar $(OUTPUT)/busybox-demo.tar $(OUTPUT)/pause.tar

$(OUTPUT)/busybox-e2e.tar: $(BUSYBOX)
	@mkdir -p $(OUTPUT)
	$(GO) run ./hack/mkimage -busybox $(BUSYBOX) -ref localhost/minikubelet/busybox:e2e -o $@

$(OUTPUT)/busybox-demo.tar: $(BUSYBOX)
	@mkdir -p $(OUTPUT)
	$(GO) run ./hack/mkimage -busybox $(BUSYBOX) -ref localhost/minikubelet/busybox:demo -o $@

$(OUTPUT)/pause.tar: $(BIN)/minikubelet-pause
	@mkdir -p $(OUTPUT)
	$(GO) run ./hack/mkimage -pause $(BIN)/minikubelet-pause -ref localhost/minikubelet/pause:$(VERSION) -o $@

clean:
	rm -rf $(BIN) $(OUTPUT)

# Install as a systemd service (root). DESTDIR and PREFIX as usual.
PREFIX ?= /usr/local
DESTDIR ?=
install: build
	install -D -m 0755 $(BIN)/minikubelet $(DESTDIR)$(PREFIX)/bin/minikubelet
	install -D -m 0755 $(BIN)/minikubelet-logger $(DESTDIR)$(PREFIX)/bin/minikubelet-logger
	install -D -m 0755 $(BIN)/minikubelet-pause $(DESTDIR)$(PREFIX)/lib/minikubelet/pause
	install -D -m 0644 configs/minikubelet.service $(DESTDIR)/etc/systemd/system/minikubelet.service
	@# Never overwrite an operator's config.
	test -e $(DESTDIR)/etc/minikubelet/config.yaml || install -D -m 0644 configs/config.yaml $(DESTDIR)/etc/minikubelet/config.yaml
	install -d -m 0755 $(DESTDIR)/etc/minikubelet/manifests
	@echo "installed; now: systemctl daemon-reload && systemctl enable --now minikubelet"

# Removes what install put in place, but not /etc/minikubelet (config and
# manifests are the operator's) nor /var/lib/minikubelet.
uninstall:
	-systemctl disable --now minikubelet 2>/dev/null
	rm -f $(DESTDIR)$(PREFIX)/bin/minikubelet $(DESTDIR)$(PREFIX)/bin/minikubelet-logger $(DESTDIR)$(PREFIX)/lib/minikubelet/pause
	-rmdir $(DESTDIR)$(PREFIX)/lib/minikubelet 2>/dev/null
	rm -f $(DESTDIR)/etc/systemd/system/minikubelet.service
