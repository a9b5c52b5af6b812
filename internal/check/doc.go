// Package check evaluates the policies on compose projects: every service
// becomes the input document the plugin builds for its create request,
// plus the whole project, and every violation becomes a Finding located
// at the line of the compose file that causes it.
package check
