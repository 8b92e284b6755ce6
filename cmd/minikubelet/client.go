package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/minikubelet/minikubelet/internal/cli"
)

func newGetCmd(socket *string) *cobra.Command {
	o := cli.GetOptions{}
	get := &cobra.Command{Use: "get", Short: "Display pods"}
	run := func(cmd *cobra.Command, args []string) error {
		o.Socket = cli.Socket(*socket)
		if len(args) > 0 {
			o.Name = args[0]
		}
		return cli.Get(cmd.Context(), o, os.Stdout, os.Stderr)
	}
	pods := &cobra.Command{
		Use: "pods [NAME]", Aliases: []string{"pod", "po"}, Short: "List pods, or show one",
		Args: cobra.MaximumNArgs(1), RunE: run,
	}
	pods.Flags().StringVarP(&o.Namespace, "namespace", "n", "", "namespace (default \"default\")")
	pods.Flags().BoolVarP(&o.AllNamespaces, "all-namespaces", "A", false, "list pods of every namespace")
	pods.Flags().StringVarP(&o.Output, "output", "o", "", "output format: wide, json, yaml or name")
	get.AddCommand(pods)
	return get
}

func newDescribeCmd(socket *string) *cobra.Command {
	o := cli.DescribeOptions{}
	describe := &cobra.Command{Use: "describe", Short: "Show details of a pod"}
	pod := &cobra.Command{
		Use: "pod NAME", Aliases: []string{"pods", "po"}, Short: "Describe one pod, with its events",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Socket, o.Name = cli.Socket(*socket), args[0]
			return cli.Describe(cmd.Context(), o, os.Stdout)
		},
	}
	pod.Flags().StringVarP(&o.Namespace, "namespace", "n", "", "namespace (default \"default\")")
	describe.AddCommand(pod)
	return describe
}

func newLogsCmd(socket *string) *cobra.Command {
	o := cli.LogsOptions{}
	cmd := &cobra.Command{
		Use: "logs POD", Short: "Print a container's log",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Socket, o.Pod = cli.Socket(*socket), args[0]
			// Ctrl-C ends a follow cleanly.
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			err := cli.Logs(ctx, o, os.Stdout, os.Stderr)
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		},
	}
	cmd.Flags().StringVarP(&o.Namespace, "namespace", "n", "", "namespace (default \"default\")")
	cmd.Flags().StringVarP(&o.Container, "container", "c", "", "container name (default: the only or first one)")
	cmd.Flags().BoolVarP(&o.Follow, "follow", "f", false, "keep printing new output")
	cmd.Flags().BoolVarP(&o.Previous, "previous", "p", false, "print the previous attempt's log")
	cmd.Flags().BoolVar(&o.Timestamps, "timestamps", false, "prefix each line with its time")
	cmd.Flags().Int64Var(&o.Tail, "tail", -1, "lines from the end to show (-1: all)")
	return cmd
}

func newValidateCmd() *cobra.Command {
	host, _ := os.Hostname()
	node := host
	cmd := &cobra.Command{
		Use: "validate FILE...", Short: "Check manifests offline with the daemon's own rules",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cli.Validate(args, node, os.Stdout, os.Stderr) {
				cmd.SilenceErrors = true
				return fmt.Errorf("invalid manifests")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&node, "node-name", node, "node name (it is part of each pod's UID)")
	return cmd
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use: "version", Short: "Print the version", Args: cobra.NoArgs,
		Run: func(*cobra.Command, []string) { cli.Version(os.Stdout) },
	}
}

func newImagesCmd(socket *string) *cobra.Command {
	images := &cobra.Command{Use: "images", Short: "List, import and remove the node's images"}
	images.AddCommand(&cobra.Command{
		Use: "ls", Aliases: []string{"list"}, Short: "List images and the pods using them", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cli.ImagesList(cmd.Context(), cli.Socket(*socket), os.Stdout)
		},
	}, &cobra.Command{
		Use: "import FILE...", Short: "Import image archives (OCI or docker save; .tar, .tar.gz, .tar.zst; - for stdin)",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.ImagesImport(cmd.Context(), cli.Socket(*socket), args, os.Stdout)
		},
	}, &cobra.Command{
		Use: "rm REF...", Aliases: []string{"remove"}, Short: "Remove images no pod uses", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cli.ImagesRemove(cmd.Context(), cli.Socket(*socket), args, os.Stdout)
		},
	})
	return images
}

func newKubeconfigCmd(socket *string) *cobra.Command {
	var role, server string
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Issue a client certificate (admin only) and print a kubeconfig for kubectl against this node",
		Long: "Asks the daemon to issue a client certificate for the role, signed by the node CA, and prints a\n" +
			"kubeconfig for it. The certificate is valid for 7 days; run the command again to renew it.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cli.Kubeconfig(cmd.Context(), cli.Socket(*socket), role, server, os.Stdout)
		},
	}
	cmd.Flags().StringVar(&role, "role", "admin", "role of the certificate: admin or view")
	cmd.Flags().StringVar(&server, "server", "", "API URL in the kubeconfig (default https://<kube-api-address>)")
	return cmd
}
