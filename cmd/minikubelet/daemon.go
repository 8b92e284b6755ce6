package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/minikubelet/minikubelet/internal/config"
	"github.com/minikubelet/minikubelet/internal/daemon"
)

func newDaemonCmd() *cobra.Command {
	cfg := config.Default()
	var configFile string
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the daemon in the foreground (systemd Type=notify)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.Load(cmd.Flags(), &cfg, configFile); err != nil {
				return err
			}
			log, err := newLogger(cfg.LogFormat, cfg.LogLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if err := daemon.Run(ctx, cfg, log); err != nil {
				log.Error("daemon failed", zap.Error(err))
				return err
			}
			return nil
		},
	}
	config.Flags(cmd.Flags(), &cfg, &configFile)
	return cmd
}

func newLogger(format, level string) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("log-level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if format == "console" {
		zc = zap.NewDevelopmentConfig()
	}
	zc.Level = zap.NewAtomicLevelAt(lvl)
	zc.OutputPaths = []string{"stderr"}
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	log, err := zc.Build()
	if err != nil {
		return nil, err
	}
	if os.Getenv("INVOCATION_ID") != "" {
		log.Debug("running under systemd")
	}
	return log, nil
}
