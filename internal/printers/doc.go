// Package printers renders pods and events the way kubectl does: the
// `get pods` table (READY, STATUS, RESTARTS and AGE computed with kubectl's
// rules), `-o name|json|yaml`, and the text of `kubectl describe pod`.
//
// Everything here is a pure function of its inputs and of the "now" the
// caller passes in, so the CLI can be tested with fixed clocks and golden
// strings. The package imports nothing else from internal/.
package printers
