package ocibuild

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"runtime"
)

// elfMachines maps GOARCH to the ELF machine of binaries that run on it.
var elfMachines = map[string]elf.Machine{
	"amd64":   elf.EM_X86_64,
	"386":     elf.EM_386,
	"arm64":   elf.EM_AARCH64,
	"arm":     elf.EM_ARM,
	"riscv64": elf.EM_RISCV,
	"ppc64le": elf.EM_PPC64,
	"s390x":   elf.EM_S390,
	"loong64": elf.EM_LOONGARCH,
}

// readStaticBinary reads the executable at path and checks that it can be
// the only thing in an image: a static ELF for the image's architecture.
// A dynamic binary would fail in the container with a bare "no such file
// or directory" (its loader is missing), which is much harder to trace
// back than this error.
func readStaticBinary(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: not an ELF executable: %w", path, err)
	}
	defer f.Close()
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return nil, fmt.Errorf("%s: ELF type %v is not an executable", path, f.Type)
	}
	if want, ok := elfMachines[runtime.GOARCH]; ok && f.Machine != want {
		return nil, fmt.Errorf("%s: built for %v, but the image is for %s", path, f.Machine, runtime.GOARCH)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s: dynamically linked (needs a loader the image does not have); build it with -static", path)
		}
	}
	return data, nil
}
