package prober

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

func TestRunExec(t *testing.T) {
	tests := []struct {
		name    string
		cmd     string
		step    execStep
		nilExec bool
		want    Result
		wantMsg string
	}{
		{name: "exit 0", cmd: "true", step: execStep{code: 0, out: "fine\n"}, want: Success},
		{name: "exit 1 quotes trimmed output", cmd: "cat /tmp/healthy",
			step: execStep{code: 1, out: "cat: can't open '/tmp/healthy': No such file or directory\n"},
			want: Failure, wantMsg: "cat: can't open '/tmp/healthy': No such file or directory"},
		{name: "exit without output names the code", cmd: "false", step: execStep{code: 2},
			want: Failure, wantMsg: `command "false" exited with 2`},
		{name: "timeout fails", cmd: "sleep 10", step: execStep{code: -1, err: fmt.Errorf("exec in ctr-1: %w", context.DeadlineExceeded)},
			want: Failure, wantMsg: `command "sleep 10" timed out after 3s`},
		{name: "runtime error is not a verdict", cmd: "true", step: execStep{err: errors.New("container not running")},
			want: Unknown, wantMsg: "exec probe: container not running"},
		{name: "no execer", cmd: "true", nilExec: true, want: Unknown, wantMsg: "exec probe: no execer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFakeExecer()
			fx.set(tt.cmd, tt.step)
			p := execProbe(tt.cmd)
			p.TimeoutSeconds = 3
			var ex Execer = fx
			if tt.nilExec {
				ex = nil
			}
			got, msg := Run(context.Background(), p, testTarget(v1.Container{Name: "c"}, ""), ex, nil)
			if got != tt.want || msg != tt.wantMsg {
				t.Errorf("Run = %v, %q; want %v, %q", got, msg, tt.want, tt.wantMsg)
			}
			if !tt.nilExec && (fx.lastCtr != "ctr-1" || fx.lastTO != 3*time.Second) {
				t.Errorf("Exec got container %q timeout %v; want ctr-1, 3s", fx.lastCtr, fx.lastTO)
			}
		})
	}
}

func TestRunExecCapsOutput(t *testing.T) {
	fx := newFakeExecer()
	fx.set("noisy", execStep{code: 1, out: strings.Repeat("x", 3*maxOutput)})
	_, msg := Run(context.Background(), execProbe("noisy"), testTarget(v1.Container{Name: "c"}, ""), fx, nil)
	if len(msg) != maxOutput {
		t.Errorf("message is %d bytes, want %d", len(msg), maxOutput)
	}
}

func TestRunExecCanceled(t *testing.T) {
	fx := newFakeExecer()
	fx.block = true
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	if got, _ := Run(ctx, execProbe("sleep 100"), testTarget(v1.Container{Name: "c"}, ""), fx, nil); got != Unknown {
		t.Errorf("canceled exec = %v, want Unknown", got)
	}
}
