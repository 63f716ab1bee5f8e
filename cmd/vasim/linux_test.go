package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/loader/objtest"
)

// mapsProgram builds a program that prints its maps as main starts.
func mapsProgram(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("places a Linux x86_64 program")
	}
	return objtest.Program(t, t.TempDir(), "maps", objtest.MapsPrinterSrc, nil)
}

// TestLayoutCommandMatchesSetarch runs vasim layout --no-aslr --json and
// the program under setarch -R with the same (empty) environment, and
// requires the same maps, line for line, and the vDSO named as ld.so
// names it.
func TestLayoutCommandMatchesSetarch(t *testing.T) {
	exe := mapsProgram(t)
	cmd := exec.Command("setarch", "-R", exe)
	cmd.Env = []string{}
	cmd.Dir = filepath.Dir(exe)
	real, err := cmd.Output()
	if err != nil {
		t.Skipf("setarch -R cannot run the program here: %v", err)
	}
	code, out, errs := runCmd(t, "layout", "--exe", exe, "--no-aslr", "--clean-env", "--cwd", filepath.Dir(exe), "--json")
	require.Equal(t, exitOK, code, errs)
	var o struct {
		Images []struct {
			Path     string `json:"path"`
			LoadBias string `json:"load_bias"`
		} `json:"images"`
		Mappings []struct {
			Start, End, Perms, Offset, Path string
		} `json:"mappings"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	lines, err := linux.ParseMaps(bytes.NewReader(real), exe)
	require.NoError(t, err)
	require.Len(t, o.Mappings, len(lines))
	for i, l := range lines {
		m := o.Mappings[i]
		require.Equal(t, l.Start.String(), m.Start, "mapping %d", i)
		require.Equal(t, l.End.String(), m.End, "mapping %d", i)
		require.Equal(t, l.Path, m.Path, "mapping %d", i)
		require.Equal(t, permsOf(l), m.Perms, "mapping %d", i)
	}
	require.Equal(t, exe, o.Images[0].Path)
	require.Equal(t, "0x555555554000", o.Images[0].LoadBias)
	require.Equal(t, "linux-vdso.so.1", o.Images[1].Path)

	// The text form prints the same lines as /proc/PID/maps.
	code, text, errs := runCmd(t, "layout", "--exe", exe, "--no-aslr", "--clean-env", "--cwd", filepath.Dir(exe))
	require.Equal(t, exitOK, code, errs)
	require.Contains(t, text, strings.SplitN(string(real), "\n", 2)[0])
}

func TestReserveCommand(t *testing.T) {
	exe := mapsProgram(t)
	at := func(bits string, extra ...string) (int, map[string]any, string) {
		args := append([]string{"reserve", "--exe", exe, "--preset", "tsan-x86_64-old", "--clean-env", "--mmap-rnd-bits", bits, "--json"}, extra...)
		code, out, errs := runCmd(t, args...)
		var o map[string]any
		if code != exitUsage {
			require.NoError(t, json.Unmarshal([]byte(out), &o), errs)
		}
		return code, o, errs
	}
	code, o, errs := at("28")
	require.Equal(t, exitOK, code, errs)
	require.Equal(t, 0.0, o["probability"])
	require.Equal(t, 29.0, o["first_failing_bits"], "old TSan starts failing above 28 bits")
	code, o, _ = at("32", "--fail-above", "0.5")
	require.Equal(t, exitFailure, code)
	require.Greater(t, o["probability"].(float64), 0.9)
	require.NotEmpty(t, o["culprits"])

	code, _, errs = runCmd(t, "reserve", "--exe", exe, "--range", "0x1000-0x2000x")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, `--range "0x1000-0x2000x"`)
	code, _, errs = runCmd(t, "reserve", "--exe", exe)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "give --preset NAME, --range START-END or --allow START-END")
	code, _, errs = runCmd(t, "reserve", "--exe", exe, "--preset", "tsan-x86_64", "--mmap-rnd-bits", "40")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "mmap_rnd_bits")

	// A preset for another architecture is refused.
	prof := filepath.Join(t.TempDir(), "kernel.json")
	require.NoError(t, os.WriteFile(prof, []byte(`{"arch": "aarch64"}`), 0o644))
	code, _, errs = runCmd(t, "reserve", "--exe", exe, "--preset", "tsan-x86_64", "--kernel", prof)
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "aarch64")
}

func TestLayoutCommandErrors(t *testing.T) {
	code, _, errs := runCmd(t, "layout", "--no-aslr", "--seed", "3", "--exe", "/bin/true")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "exclude each other")
	code, _, errs = runCmd(t, "layout")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "--exe is required")
	code, _, errs = runCmd(t, "layout", "--exe", "/nonexistent/prog")
	require.Equal(t, exitInput, code)
	require.Contains(t, errs, "--exe /nonexistent/prog: does not exist")
	code, _, errs = runCmd(t, "layout", "--exe", "/bin/true", "--env", "NOEQUALS")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, `--env "NOEQUALS"`)
}

func TestTSDCommand(t *testing.T) {
	code, out, errs := runCmd(t, "tsd")
	require.Equal(t, exitFailure, code, errs)
	require.Contains(t, out, "addon-b.node finds addon-a.node's heap in its slot")
	code, out, _ = runCmd(t, "tsd", "--model", "thread-local")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "no instance reads another's heap pointer")
	code, out, _ = runCmd(t, "tsd", "--scenario", "rayon-after-exit", "--json")
	require.Equal(t, exitFailure, code)
	var o map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	require.Equal(t, 1.0, o["counts"].(map[string]any)["malloc_returned_null"])
	code, _, errs = runCmd(t, "tsd", "--scenario", "nope")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errs, "two-napi-addons")
	f := filepath.Join(t.TempDir(), "s.json")
	require.NoError(t, os.WriteFile(f, []byte(`{"instances": [{"name": "a", "model": "fixed-slot", "slots": [1]}]}`), 0o644))
	code, _, errs = runCmd(t, "tsd", "--file", f)
	require.Equal(t, exitInput, code, "a document the model cannot use is bad input")
	require.Contains(t, errs, "s.json")
}

// vasim tls pages --json names the thread pointer the real process has
// under setarch -R, and the documented keys.
func TestTLSPagesCommand(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("places a Linux x86_64 program")
	}
	dir := t.TempDir()
	exe := objtest.Program(t, dir, "tp", `#include <stdio.h>
int main(void) { unsigned long tp; __asm__("mov %%fs:0, %0" : "=r"(tp)); printf("0x%lx\n", tp); return 0; }
`, nil)
	cmd := exec.Command("setarch", "-R", exe)
	cmd.Env = []string{}
	cmd.Dir = dir
	real, err := cmd.Output()
	if err != nil {
		t.Skipf("setarch -R cannot run the program here: %v", err)
	}
	code, out, errs := runCmd(t, "tls", "pages", "--exe", exe, "--no-aslr", "--clean-env", "--cwd", dir, "--json")
	require.Equal(t, exitOK, code, errs)
	var o struct {
		TP        string            `json:"tp"`
		StaticTLS map[string]string `json:"static_tls"`
		Pages     []string          `json:"pages"`
		DTVPage   string            `json:"dtv_page"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &o))
	require.Equal(t, strings.TrimSpace(string(real)), o.TP)
	require.Equal(t, o.TP, o.StaticTLS["end"], "variant II: static TLS ends at tp")
	require.NotEmpty(t, o.Pages)
	require.Contains(t, o.Pages, o.DTVPage)
}

// A built-in static-TLS case dumped by vasim scenarios reads back with
// vasim tls --case to the same answer.
func TestTLSCaseDumpRoundTrips(t *testing.T) {
	code, list, _ := runCmd(t, "scenarios")
	require.Equal(t, exitOK, code)
	require.Contains(t, list, "redis-ld-audit-x86_64 (vasim tls --scenario")
	code, doc, errs := runCmd(t, "scenarios", "--dump", "redis-ld-audit-x86_64")
	require.Equal(t, exitOK, code, errs)
	f := filepath.Join(t.TempDir(), "case.json")
	require.NoError(t, os.WriteFile(f, []byte(doc), 0o644))
	c1, out1, _ := runCmd(t, "tls", "--scenario", "redis-ld-audit-x86_64", "--json")
	c2, out2, _ := runCmd(t, "tls", "--case", f, "--json")
	require.Equal(t, c1, c2)
	require.Equal(t, out1, out2)
	require.Contains(t, out1, `"minimal_optional_static_tls": 1441`)
}
