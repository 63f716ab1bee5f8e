package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vasim/vasim/loader/linux"
	"github.com/vasim/vasim/tls"
	"github.com/vasim/vasim/vaspace"
)

func init() {
	subcommands["tls pages"] = &command{
		name:    "tls pages",
		summary: "where a Linux program's initial thread keeps its static TLS, TCB and DTV, the pages a compartmentalising loader must share, and how sharing rules compare",
		usage: "vasim tls pages --exe PROGRAM [--no-aslr | --seed N] [--probe OFFSET]... [--arg ARG]... [--env K=V]... [--clean-env] [--cwd DIR]\n" +
			"       [--stack-limit BYTES|unlimited] [--dlopen LIB]... [--kernel FILE] [--sysroot DIR] [--json]",
		example: `vasim tls pages --exe /usr/bin/true --no-aslr
    # the initial thread's TLS block, TCB and DTV, and the pages they cover
vasim tls pages --exe ./app --probe -0x4018 --probe -0x10
    # which sharing rule covers these offsets from the thread pointer
vasim tls pages --exe ./app --seed 7 --json    # one random launch, as a vasim/tls-pages/v1 document`,
	}
}

type tlsPagesStrategy struct {
	Name     string          `json:"name"`
	Pages    []vaspace.Addr  `json:"pages"`
	Extra    []vaspace.Addr  `json:"extra_pages"`
	Missed   []vaspace.Addr  `json:"missed_pages"`
	Covers   map[string]bool `json:"covers"`
	OneCall  string          `json:"one_call_error,omitempty"`
	Unmapped []vaspace.Addr  `json:"unmapped_pages,omitempty"`
}

type tlsPagesJSON struct {
	Schema  string      `json:"schema"`
	Program programJSON `json:"program"`
	// ASLR is "on" or "off" as in vasim/layout/v1; MovedBy the draw that
	// moves the block, as layout's images name it: "mmap" (ld.so's
	// malloc places it), or "none" with ASLR off.
	ASLR       string             `json:"aslr"`
	MovedBy    string             `json:"moved_by"`
	TP         vaspace.Addr       `json:"tp"`
	StaticTLS  vaspace.Range      `json:"static_tls"`
	TCB        vaspace.Range      `json:"tcb"`
	Block      vaspace.Range      `json:"allocation"`
	DTV        vaspace.Range      `json:"dtv"`
	DTVPage    vaspace.Addr       `json:"dtv_page"`
	Pages      []vaspace.Addr     `json:"pages"`
	Strategies []tlsPagesStrategy `json:"strategies"`
	Notes      []string           `json:"notes,omitempty"`
	Dlopen     []dlopenJSON       `json:"dlopen,omitempty"`
}

// runTLSPages is "vasim tls pages": where the initial thread's static TLS,
// TCB and DTV are in a Linux process placed by the Linux model, the pages
// a compartmentalising loader must share, and how the rules IA2 tried
// compare.
func runTLSPages(e *env, args []string) int {
	fs := newFlags(e, "tls pages")
	var lf launchFlags
	lf.register(fs)
	noASLR, seed := drawFlags(fs)
	var probes listFlag
	fs.Var(&probes, "probe", "an offset from the thread pointer whose coverage to report, e.g. -0x4018 (PartitionAlloc's bookkeeping; repeatable; default -0x4018)")
	asJSON := fs.Bool("json", false, "print a vasim/tls-pages/v1 document (vasim help json)")
	r := reporter{e: e, name: "tls pages"}
	if code, ok := parseArgs(fs, &r, args); !ok {
		return code
	}
	r.asJSON = *asJSON
	if len(probes) == 0 {
		probes = listFlag{"-0x4018"}
	}
	var offsets []int64
	for _, s := range probes {
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			return r.usage("--probe %q: want an offset from the thread pointer, like -0x4018", s)
		}
		offsets = append(offsets, n)
	}
	pr, p, err := lf.place(e, *noASLR, *seed)
	if err != nil {
		return report(r, err)
	}
	if p.TLS.TP == 0 {
		return r.input("%s is not dynamically linked: its initial TLS block is set up by libc, which the model does not place", lf.exe)
	}
	page := p.Kernel.PageSize
	out := tlsPagesJSON{Schema: schemaTLSPages, Program: programOf(lf.cmd), ASLR: "off", MovedBy: moved(linux.GroupFixed), TP: p.TLS.TP, StaticTLS: p.TLS.Static, TCB: p.TLS.TCB, Block: p.TLS.Alloc, DTV: p.DTVAlloc, DTVPage: p.DTVAlloc.Start.RoundDown(page), Pages: tls.ExactPages(p.TLS, p.DTVAlloc, page), Dlopen: dlopensOf(p.Dlopens)}
	if n := scriptNote(lf.cmd); n != "" {
		out.Notes = append(out.Notes, n)
	}
	out.Notes = append(out.Notes, pr.Notes...)
	if *seed != "" && !p.Randomized {
		out.Notes = append(out.Notes, seedNote(*seed, p.Kernel))
	}
	if p.Randomized {
		// ld.so's minimal malloc holds the block and the DTV: the mmap
		// draw moves them.
		out.ASLR, out.MovedBy = "on", moved(linux.GroupMmap)
	}
	var addrs []vaspace.Addr
	for _, off := range offsets {
		addrs = append(addrs, vaspace.Addr(int64(p.TLS.TP)+off))
	}
	for _, r := range tls.ComparePages(p.TLS, p.DTVAlloc, p.Space(), addrs, tls.Strategies) {
		js := tlsPagesStrategy{Name: r.Strategy.Name, Pages: r.Pages, Extra: r.Extra, Missed: r.Missed, Covers: map[string]bool{}, Unmapped: r.Unmapped}
		for i, a := range addrs {
			js.Covers[probes[i]] = r.Covers[a]
		}
		if r.OneCall != nil {
			js.OneCall = r.OneCall.Error()
		}
		out.Strategies = append(out.Strategies, js)
	}
	if *asJSON {
		writeJSON(e.stdout, out)
	} else {
		printTLSPages(e.stdout, out, probes)
	}
	return reportDlopens(e, "tls pages", out.Dlopen)
}

// tpPlus names the address at a --probe offset from the thread pointer:
// "tp-0x4018", "tp+0x10".
func tpPlus(off string) string {
	if strings.HasPrefix(off, "-") || strings.HasPrefix(off, "+") {
		return "tp" + off
	}
	return "tp+" + off
}

func printTLSPages(w io.Writer, o tlsPagesJSON, probes []string) {
	how := "ASLR off"
	if o.ASLR == "on" {
		how = "ASLR on: the block moves with " + movedWords[o.MovedBy] + "; shown at one launch (--seed N for another, --no-aslr for none)"
	}
	fmt.Fprintf(w, "%s, initial thread (%s):\n", o.Program.heading(), how)
	fmt.Fprintf(w, "  thread pointer   %v\n", o.TP)
	fmt.Fprintf(w, "  static TLS       %v (%s)\n", o.StaticTLS, vaspace.Size(o.StaticTLS.Len()))
	fmt.Fprintf(w, "  TCB              %v\n", o.TCB)
	fmt.Fprintf(w, "  ld.so allocation %v\n", o.Block)
	fmt.Fprintf(w, "  DTV              %v (page %v)\n", o.DTV, o.DTVPage)
	var ps []string
	for _, p := range o.Pages {
		ps = append(ps, p.String())
	}
	fmt.Fprintf(w, "  pages to share   %s\n", strings.Join(ps, " "))
	for _, n := range o.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	printDlopens(w, o.Program.Path, o.Dlopen)
	fmt.Fprintln(w)
	var ps2 []string
	for _, p := range probes {
		ps2 = append(ps2, tpPlus(p))
	}
	fmt.Fprintf(w, "How each sharing rule does: the pages it shares = those needed + mapped ones not needed + unmapped ones; the needed pages it misses (an access there faults); whether it covers %s (--probe).\n", strings.Join(ps2, ", "))
	for _, s := range o.Strategies {
		needed := len(s.Pages) - len(s.Extra) - len(s.Unmapped)
		fmt.Fprintf(w, "%s: %d pages = %d needed + %d not needed + %d unmapped; misses %d", s.Name, len(s.Pages), needed, len(s.Extra), len(s.Unmapped), len(s.Missed))
		for _, p := range probes {
			if s.Covers[p] {
				fmt.Fprintf(w, "; covers %s", tpPlus(p))
			} else {
				fmt.Fprintf(w, "; does not cover %s", tpPlus(p))
			}
		}
		fmt.Fprintln(w)
		if s.OneCall != "" {
			fmt.Fprintf(w, "  one pkey_mprotect over the interval fails (ENOMEM): %s; a page-by-page walk skips %d unmapped pages\n", s.OneCall, len(s.Unmapped))
		}
	}
}
