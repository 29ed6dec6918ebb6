package plugins

import (
	"debug/elf"
	"errors"
	"fmt"
	"runtime"
)

// elfMachines maps GOARCH to the ELF machine of its shared libraries.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"riscv64": elf.EM_RISCV, "ppc64le": elf.EM_PPC64, "ppc64": elf.EM_PPC64, "s390x": elf.EM_S390,
	"loong64": elf.EM_LOONGARCH, "mips64le": elf.EM_MIPS, "mips64": elf.EM_MIPS,
}

// checkPlatform tells, on Linux, why path is not a shared library this
// process can load (nil when it looks loadable), before the dynamic loader
// is asked: the loader's own messages for a foreign machine are obscure.
func checkPlatform(path string) error {
	if runtime.GOOS != "linux" {
		return nil
	}
	f, err := elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return errors.New("not an ELF shared library (a Linux .so built with gcc -shared or go build -buildmode=c-shared)")
		}
		return err
	}
	defer f.Close()
	want, known := elfMachines[runtime.GOARCH]
	if known && f.Machine != want {
		return fmt.Errorf("built for %s, but this Conveyor runs on %s/%s", machineName(f.Machine), runtime.GOOS, runtime.GOARCH)
	}
	if is64 := f.Class == elf.ELFCLASS64; is64 != (8 == ptrSize) {
		return fmt.Errorf("a %s library, but this Conveyor is a %d-bit program", f.Class, ptrSize*8)
	}
	if f.Type != elf.ET_DYN {
		return fmt.Errorf("an ELF %s, not a shared library (build with gcc -shared or go build -buildmode=c-shared)", f.Type)
	}
	return nil
}

const ptrSize = 4 << (^uintptr(0) >> 63)

func machineName(m elf.Machine) string {
	switch m {
	case elf.EM_X86_64:
		return "x86-64 (amd64)"
	case elf.EM_AARCH64:
		return "AArch64 (arm64)"
	case elf.EM_386:
		return "x86 (386)"
	case elf.EM_ARM:
		return "ARM (arm)"
	}
	return m.String()
}
