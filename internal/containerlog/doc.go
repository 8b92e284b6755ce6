// Package containerlog owns container log files in the CRI format: it writes
// them (in a logger process the containerd shim starts through containerd's
// binary logging, or in-process through a Writer) and reads them back for the
// API's containerLogs route, with tail, timestamps and follow.
//
// A log file holds one record per line:
//
//	2016-10-06T00:17:09.669794202Z stdout F the line the container wrote
//
// The tag is F for a full line and P for a chunk of a longer line (longer
// than 16 KiB, or cut short by the end of the stream); a logical line is any
// number of P records followed by one F record.
package containerlog
