package cli

import (
	"strings"

	"github.com/spf13/cobra"
)

// The command list. Each command is made by one function, newXxxCmd(a),
// that declares its flags and calls into the packages below; a command in
// two places (`strata images` and `strata image ls`) is made twice, as a
// cobra command has one parent.

// commands are strata's top-level commands (`strata --help` lists them
// sorted).
func commands(a *app) []*cobra.Command {
	cs := []*cobra.Command{
		newAnalyzeCmd(a),
		newBuildCmd(a),
		newBuilderCmd(a),
		newContainerCmd(a),
		newCompletionCmd(a),
		newContainerMonitorCmd(a),
		newEventsCmd(a),
		newFsckCmd(a),
		newHistoryCmd(a),
		newImageCmd(a),
		newImagesCmd(a),
		newImportCmd(a),
		newInfoCmd(a),
		newInspectCmd(a),
		newLoadCmd(a),
		newLoginCmd(a),
		newLogoutCmd(a),
		newManCmd(a),
		newManifestCmd(a),
		newPullCmd(a),
		newPushCmd(a),
		newRmiCmd(a),
		newSaveCmd(a),
		newSbomCmd(a),
		newScanCmd(a),
		newSystemCmd(a),
		newTagCmd(a),
		newUICmd(a),
		newVersionCmd(a),
	}
	// Docker has the container commands at the top level too.
	return append(cs, containerCommands(a)...)
}

// containerCommands are the commands found both at the top level and under
// `strata container` (where ps is ls).
func containerCommands(a *app) []*cobra.Command {
	return []*cobra.Command{
		newAttachCmd(a),
		newCommitCmd(a),
		newCpCmd(a),
		newCreateCmd(a),
		newDiffCmd(a),
		newExecCmd(a),
		newExportCmd(a),
		newKillCmd(a),
		newLogsCmd(a),
		newPauseCmd(a),
		newPortCmd(a),
		newPsCmd(a),
		newRenameCmd(a),
		newRestartCmd(a),
		newRmCmd(a),
		newRunCmd(a),
		newStartCmd(a),
		newStatsCmd(a),
		newStopCmd(a),
		newTopCmd(a),
		newUnpauseCmd(a),
		newWaitCmd(a),
	}
}

// newContainerCmd is `strata container ls|run|prune|...`, as docker has
// them.
func newContainerCmd(a *app) *cobra.Command {
	group := &cobra.Command{Use: "container", Short: "Manage containers"}
	for _, c := range containerCommands(a) {
		if c.Name() == "ps" {
			c.Use, c.Aliases = "ls [OPTIONS]", []string{"list", "ps"}
		}
		group.AddCommand(c)
	}
	group.AddCommand(newContainerPruneCmd(a), newInspectCmdOf(a, "container"))
	return group
}

// newImageCmd is `strata image ls|rm|prune|inspect|...`, as docker has
// them.
func newImageCmd(a *app) *cobra.Command {
	group := &cobra.Command{Use: "image", Short: "Manage images"}
	ls := newImagesCmd(a)
	ls.Use, ls.Aliases = "ls", []string{"list"}
	rm := newRmiCmd(a)
	rm.Use, rm.Aliases = strings.Replace(rm.Use, "rmi", "rm", 1), []string{"remove"}
	group.AddCommand(ls, rm,
		newBuildCmd(a),
		newHistoryCmd(a),
		newImportCmd(a),
		newInfoCmd(a),
		newInspectCmdOf(a, "image"),
		newLoadCmd(a),
		newImagePruneCmd(a),
		newImageDiffCmd(a),
		newImageRebaseCmd(a),
		newImageSquashCmd(a),
		newPullCmd(a),
		newPushCmd(a),
		newSaveCmd(a),
		newTagCmd(a),
	)
	return group
}
