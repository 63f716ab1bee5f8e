// Package picture draws a process's address space as a standalone SVG
// that a person reads at a glance: what is mapped, the ranges that matter
// (a reservation window, a sanitizer's fixed ranges, where randomised
// memory can land), a row of equal slots with the colliding ones marked,
// and the mappings to blame, each labelled.
//
// A Figure says what to draw; WriteSVG draws it, about 1200 pixels wide,
// in one document with no external references. It is the --svg output of
// vasim xzone, vasim layout and vasim reserve, each of which fills a
// Figure from its results; scripts/render-svg turns one into a PNG with
// headless Chromium.
//
// # The axis
//
// Address spaces hold 4 KiB pages and 128 TiB of room, so a linear axis
// shows nothing and a log axis distorts every size. The axis is instead a
// broken linear axis. A stretch in which nothing starts or ends is
// collapsed into a break when it is at least a quarter of what is left to
// show (three quarters for the inside of one mapping, such as a GPU
// carveout) and the smallest thing drawn would otherwise be under 4 pixels
// wide; stretches covered by a band, a highlight or the slot row are never
// collapsed, and there are at most 8 breaks. A break is drawn 40 to 110
// pixels wide, cut by a white slit across every row with // on the axis,
// and labelled under the axis with what it skips ("≈ 127.6 TiB free",
// "GPU carveout ≈ 384 GiB"). Between the breaks the axis is to scale, with
// one scale for every shown segment, except that no segment is drawn
// narrower than 24 pixels. Ticks are labelled in binary units (B to EiB)
// chosen by magnitude, or the next smaller unit, with at most two decimals,
// else in hexadecimal; the ends of every segment are labelled exactly,
// in a unit when that is exact and in hexadecimal otherwise.
//
// When several highlights or colliding slots crowd into a few pixels of
// that overview, a detail panel below it (lettered A, B, C; at most three)
// draws their neighbourhood on its own axis, built the same way, where
// each of them is wide enough to see and label.
//
// # What the SVG carries
//
// Every element that stands for something has a <title> (a tooltip) with
// its name and its range as [%#x, %#x), and data attributes a program can
// read: data-kind ("panel", "mapping", "band", "highlight", "slot",
// "slot-run", "break", "segment", "tick", "tick-label", "label",
// "detail-marker", ...), data-start and data-end (hex), and per kind
// data-mapping-kind, data-style, data-slot, data-colliding, data-culprit,
// data-skipped (decimal bytes) and data-addr. The output depends only on
// the Figure: the same Figure gives the same bytes, whatever the order of
// its mappings.
//
// Text widths are estimated from the advance widths of DejaVu Sans, the
// first font the SVG asks for (Verdana, its metric twin, next), and labels
// are placed in rows with leader lines so that they do not overlap.
package picture
