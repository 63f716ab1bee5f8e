//go:build linux

package input_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/internal/input"
	"github.com/vasim/vasim/loader/objtest"
)

// showSrc prints the file name the kernel was given (AT_EXECFN) and argv,
// one a line.
const showSrc = `#include <stdio.h>
#include <sys/auxv.h>
int main(int argc, char **argv) {
	printf("%s\n", (const char *)getauxval(AT_EXECFN));
	for (int i = 0; i < argc; i++) printf("%s\n", argv[i]);
	return 0;
}
`

// The real kernel, shell and env(1) run each command to the program
// Resolve names, with the execve file name and argv it predicts; a chain
// of scripts one deeper than MaxScriptDepth, an unsplit env line and a
// DOS line ending fail to start.
func TestResolveMatchesTheKernel(t *testing.T) {
	env, err := exec.LookPath("env")
	if err != nil {
		t.Skip("no env(1) on this machine")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	show := objtest.Program(t, bin, "show", showSrc, nil)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
		return p
	}
	write("bin/plain", "#!"+show+"\n")
	write("bin/witharg", "#! "+show+"  -a  b \t\n")
	write("bin/nested", "#!"+filepath.Join(dir, "bin/witharg")+" n\n")
	write("bin/viaenv", "#!"+env+" show\n")
	write("bin/viaenvS", "#!"+env+" -S -u HOME show -x -y\n")
	write("bin/envnested", "#!"+env+" nested\n")
	write("bin/unsplit", "#!"+env+" show -x\n") // env is given "show -x"
	write("bin/dos", "#!"+show+"\r\n")
	prev := show
	for i := 1; i <= input.MaxScriptDepth+1; i++ {
		prev = write("bin/deep"+strings.Repeat("x", i), "#!"+prev+"\n")
	}

	for _, c := range []struct {
		name string
		args []string
	}{
		{"show", []string{"1"}},
		{"plain", []string{"1", "2"}},
		{"witharg", nil},
		{"nested", []string{"z"}},
		{filepath.Join(dir, "bin/nested"), nil},
		{"viaenv", []string{"q"}},
		{"viaenvS", nil},
		{"envnested", []string{"r"}},
		{"unsplit", nil},
		{"dos", nil},
		{"deep" + strings.Repeat("x", input.MaxScriptDepth), nil},
		{"deep" + strings.Repeat("x", input.MaxScriptDepth+1), nil},
	} {
		// A shell finds the command in PATH and execs it.
		cmd := exec.Command("/bin/sh", append([]string{"-c", `exec "$0" "$@"`, c.name}, c.args...)...)
		cmd.Env = []string{"PATH=" + bin}
		cmd.Dir = dir
		out, runErr := cmd.Output()
		r := input.Resolver{PATH: bin, EnvPATH: bin, Dir: dir}
		got, err := r.Resolve(c.name, c.args)
		if runErr != nil {
			assert.Error(t, err, "%s: the kernel refuses it (%v), Resolve does not", c.name, runErr)
			continue
		}
		require.NoError(t, err, "%s: %s", c.name, out)
		assert.Equal(t, show, got.Path, c.name)
		want := append([]string{got.Filename}, got.Argv...)
		assert.Equal(t, want, strings.Split(strings.TrimSuffix(string(out), "\n"), "\n"), c.name)
	}
}
