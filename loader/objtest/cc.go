// Package objtest builds object files for tests of vasim's readers and
// models: shared objects and programs compiled by the host's C compiler
// (to run under the real loader), and synthetic ELF and Mach-O files
// written byte by byte (for the readers' edge cases and as fuzz seeds).
package objtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireCC returns the path of the C compiler name ("gcc", or a cross
// compiler such as "aarch64-linux-gnu-gcc"), or skips the test saying
// what is missing.
func RequireCC(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (the test builds objects with it): %v", name, err)
	}
	return p
}

// Compile writes src to dir/name.c and compiles it with cc into
// dir/name, passing args before the source (-shared -fPIC, -static, ...)
// and libs after it (-L..., -lfoo). It returns the output's path, or an
// error with the compiler's output. It is safe to call from several
// goroutines.
func Compile(cc, dir, name, src string, args, libs []string) (string, error) {
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	argv := append(append(append([]string{}, args...), "-o", out, c), libs...)
	if b, err := exec.Command(cc, argv...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s %v: %v: %s", cc, argv, err, b)
	}
	return out, nil
}

// Shared builds src into the shared object dir/name with gcc (-shared
// -fPIC -O1) and libs, failing the test on error. It skips the test when
// gcc is missing.
func Shared(t testing.TB, dir, name, src string, libs ...string) string {
	t.Helper()
	out, err := Compile(RequireCC(t, "gcc"), dir, name, src, []string{"-shared", "-fPIC", "-O1"}, libs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Program builds src into the executable dir/name with gcc (-O1, and
// args such as -static or -no-pie) and libs, failing the test on error.
// It skips the test when gcc is missing.
func Program(t testing.TB, dir, name, src string, args []string, libs ...string) string {
	t.Helper()
	out, err := Compile(RequireCC(t, "gcc"), dir, name, src, append([]string{"-O1"}, args...), libs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
