package daemon

import (
	"io"

	"github.com/sirupsen/logrus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// routeClientLogs sends what the containerd client logs (through logrus,
// by default straight to stderr in its own format) into the daemon's zap
// logger, so the daemon's log stays one structured stream.
func routeClientLogs(log *zap.Logger) {
	l := logrus.StandardLogger()
	l.SetOutput(io.Discard)
	l.SetLevel(logrus.DebugLevel)
	l.ReplaceHooks(logrus.LevelHooks{})
	l.AddHook(&zapHook{log: log.Named("containerd-client")})
}

type zapHook struct{ log *zap.Logger }

func (h *zapHook) Levels() []logrus.Level { return logrus.AllLevels }

func (h *zapHook) Fire(e *logrus.Entry) error {
	lvl := zapcore.DebugLevel
	switch e.Level {
	case logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel:
		lvl = zapcore.ErrorLevel
	case logrus.WarnLevel:
		lvl = zapcore.WarnLevel
	case logrus.InfoLevel:
		// The client's info lines ("fetch failed" on every failed pull)
		// repeat what the daemon reports itself; keep them at debug.
		lvl = zapcore.DebugLevel
	}
	if ce := h.log.Check(lvl, e.Message); ce != nil {
		fields := make([]zap.Field, 0, len(e.Data))
		for k, v := range e.Data {
			fields = append(fields, zap.Any(k, v))
		}
		ce.Write(fields...)
	}
	return nil
}
