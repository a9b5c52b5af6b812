package main

import (
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/imagescan"
	"github.com/hardened-authz/hardened-authz/internal/input"
	"github.com/hardened-authz/hardened-authz/internal/report"
	"github.com/hardened-authz/hardened-authz/internal/route"
)

type imageOptions struct {
	dockerHost string
	format     string
	stateDir   string
	policyDirs []string
	deadlines  imagefacts.Deadlines
}

func newImageCommand() *cobra.Command {
	o := imageOptions{}
	cmd := &cobra.Command{
		Use:   "image REF",
		Short: "Print the facts the policies see for an image",
		Long: `Print what hardened-authz knows about an image: its ID, its hardened
family, where the facts come from (index: the image's own files; daemon:
image inspect; catalog: the name only), its PATH, its shell, its own
healthcheck, and the lookups of the programs a container of it runs.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runImage(cmd, args[0], o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.dockerHost, "docker-host", "", "daemon to ask (default: $DOCKER_HOST, else "+client.DefaultDockerHost+")")
	f.StringVar(&o.format, "format", "text", "text or json")
	f.StringVar(&o.stateDir, "state-dir", "", "image index cache to use and fill (default: none, scan now)")
	f.StringArrayVar(&o.policyDirs, "policy", nil, "directory of policies laid over the embedded ones, e.g. your own catalog (repeatable)")
	f.DurationVar(&o.deadlines.Daemon, "daemon-timeout", imagefacts.ToolDeadlines.Daemon, "deadline for one call to the daemon (image inspect)")
	f.DurationVar(&o.deadlines.Scan, "scan-timeout", imagefacts.ToolDeadlines.Scan, "how long to wait for the image's index")
	return cmd
}

func runImage(cmd *cobra.Command, ref string, o imageOptions) error {
	if o.format != "text" && o.format != "json" {
		return usageError{fmt.Errorf("--format %q: want text or json", o.format)}
	}
	if err := o.deadlines.Validate(); err != nil {
		return usageError{err}
	}
	ctx := cmd.Context()
	engine, cli, host, err := engineAndDaemon(ctx, o.policyDirs, o.dockerHost)
	if err != nil {
		return err
	}
	defer cli.Close()

	img := imagefacts.NewSource(cli, imagescan.New(cli, o.stateDir, nil), o.deadlines).Image(ctx, ref)
	if !img.Found {
		fmt.Fprintf(cmd.ErrOrStderr(), "authz: %s is not in the daemon at %s (%s); showing what the name says\n", ref, host, img.Err)
	}
	// The container as `docker run REF` would create it: no overrides.
	req := &container.CreateRequest{Config: &container.Config{Image: ref}, HostConfig: &container.HostConfig{}}
	doc := input.ForRequest(route.Parse("POST", "/containers/create"), input.Caller{}, "").WithImage("", req, img)
	lib, err := engine.Query(ctx, "data.hardened.lib.image", doc.Value())
	if err != nil {
		return err
	}
	return report.NewImage(doc, lib, img.IndexErr).Write(cmd.OutOrStdout(), o.format)
}
