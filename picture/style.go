package picture

import (
	"fmt"
	"strconv"

	"github.com/vasim/vasim/vaspace"
)

// Colours. Red means trouble throughout: highlights, colliding slots and
// ranges that must stay free.
const (
	colHighlight   = "#d62728"
	colHighlightLn = "#7a1212"
	colHighlightTx = "#a31d1d"
	colFreeSlot    = "#d5e8d4"
	colFreeSlotLn  = "#8fb98c"
	colTrack       = "#f2f2f2"
	colGrid        = "#e4e4e4"
	colAxis        = "#555"
	colText        = "#222"
	colMuted       = "#666"
	colLeader      = "#999"
)

type kindStyle struct {
	fill   string
	name   string // legend
	plural string // "1543 images"
}

var kindStyles = map[vaspace.Kind]kindStyle{
	vaspace.KindAnon:         {"#e9c46a", "anonymous", "anonymous mappings"},
	vaspace.KindImage:        {"#4e79a7", "image", "images"},
	vaspace.KindReservation:  {"#a8a8a8", "reservation", "reservations"},
	vaspace.KindGuard:        {"#d3d3d3", "guard", "guards"},
	vaspace.KindStack:        {"#59a14f", "stack", "stacks"},
	vaspace.KindSharedRegion: {"#76b7b2", "shared region", "shared regions"},
	vaspace.KindHeap:         {"#f28e2b", "heap", "heaps"},
	vaspace.KindVDSO:         {"#b07aa1", "vDSO / commpage", "vDSO mappings"},
	vaspace.KindPlatform:     {"#9c755f", "platform-reserved", "platform regions"},
	vaspace.KindFile:         {"#ff9da7", "file", "file mappings"},
}

func styleOf(k vaspace.Kind) kindStyle {
	if s, ok := kindStyles[k]; ok {
		return s
	}
	n := "kind " + strconv.Itoa(int(k))
	return kindStyle{"#888888", n, n + " mappings"}
}

// onColour returns a text colour readable on fill (a #rrggbb colour).
func onColour(fill string) string {
	var r, g, b int
	if _, err := fmt.Sscanf(fill, "#%02x%02x%02x", &r, &g, &b); err != nil {
		return colText
	}
	if 0.299*float64(r)+0.587*float64(g)+0.114*float64(b) < 150 {
		return "#fff"
	}
	return colText
}

type bandLook struct {
	fill, stroke, dash, legend string
}

var bandLooks = [...]bandLook{
	BandNote:     {"#ebebeb", "#8c8c8c", "", "range of note"},
	BandKeepFree: {"url(#keepfree)", "#c0392b", "", "must stay free"},
	BandAllowed:  {"#dcefd6", "#4f9a44", "", "mappings must lie inside"},
	BandReach:    {"#dce9f7", "#3b73b9", "4 2", "can land here (any draw)"},
}

// defs are the patterns the styles use.
const defs = `<defs><pattern id="keepfree" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fbe3e1"/><line x1="0" y1="0" x2="0" y2="6" stroke="#e06b5f" stroke-width="2"/></pattern></defs>`
