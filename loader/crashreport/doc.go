// Package crashreport reads macOS crash reports, so that vasim can analyse
// the exact address-space layout of a launch that crashed: which images
// were loaded where, and what the report says killed the process.
//
// Two forms are read, and told apart automatically:
//
//   - The JSON form (.ips) of macOS 12 and later (and iOS 15): a first
//     line holding an IPS metadata object (bug_type, os_version, name,
//     incident_id, timestamp, ...), then the report body as a second JSON
//     object (usedImages, procName, cpuType, exception, termination, asi,
//     faultingThread, threads, sharedCache, ...). A crash report has
//     bug_type 309. Apple documents the form in "Interpreting the JSON
//     format of a crash report" (developer.apple.com/documentation/xcode/
//     interpreting-the-json-format-of-a-crash-report). Reports of other
//     bug types are read when their body has a usedImages list;
//     otherwise Parse says which bug type it was and that it lists no
//     images.
//   - The older text form (.crash, and what Console shows as a
//     "Translated Report"): "Key: value" header lines (Process, Code Type,
//     OS Version, Exception Type, Exception Codes, Termination Reason,
//     Application Specific Information, ...), thread backtraces, and a
//     "Binary Images:" section of lines
//     "0xSTART - 0xEND [+]name [(version)] [arch] <UUID> [path]" whose END
//     is inclusive. Apple documents the fields in "Examining the fields in
//     a crash report" (developer.apple.com/documentation/xcode/
//     examining-the-fields-in-a-crash-report). iOS 14 and earlier wrote
//     this text under a one-line JSON metadata object (bug_type 109);
//     that is read too.
//
// A translated report followed by its "Full Report" (what the crash
// reporter window and many bug reports contain) is read from the JSON
// part, which is the complete one.
//
// What a report's image ranges cover: in the reports checked, each
// image's range is its __TEXT segment, not its whole mapped span; __DATA
// and __LINKEDIT are not listed. (In a published macOS 12.1 report, a
// test file of doronz88/pycrashreport, the region info shows /bin/sleep's
// __TEXT as 105857000-10585b000, exactly its usedImages base and size;
// Apple's documentation does not say.) A layout built from a report
// (Report.Space) therefore holds a lower bound of what was mapped. Absent
// images (the usedImages entries with size 0, and the text placeholder
// 0x0 - 0xffffffffffffffff) are skipped with a note in Report.Notes,
// never silently. So is a doubt about completeness: a text report cut at
// a line boundary inside its Binary Images section reads as a shorter
// list, so when the section runs to the end of the input with nothing
// after it (complete iOS reports end with an "EOF" line, macOS ones go on
// with "External Modification Summary:" and "VM Region Summary:"), the
// report is read with a note that it may be cut short.
//
// Nothing a report contains makes Parse panic: malformed, truncated or
// hostile input yields a *ParseError (naming the source, line and byte
// offset) or an *ImageError (naming the images), each matching one of the
// Err* classes with errors.Is.
package crashreport
