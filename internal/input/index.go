package input

// Files answers from an image's files. imageindex.Index implements it.
type Files interface {
	// LookPath finds a program as runc would: a name with a slash is taken
	// as a path in the image, any other is searched in the PATH directories.
	LookPath(name string, path []string) (found string, ok bool)
	// Resolve follows every symlink of a path from the image root.
	Resolve(path string) (final string, ok bool)
}

// WithIndex adds what the image's own files say about the programs the
// container will execute: the healthcheck's program (and, in shell form,
// the shell and the commands it runs), the entrypoint or command, and
// /bin/sh, which also sets shell_found. Call it after WithCreate, since lookups use the
// container's effective PATH. These facts win over labels and the catalog.
func (d Document) WithIndex(files Files) Document {
	c, img := d.Container, *d.Image
	img.Programs = map[string]ProgramFact{}
	add := func(name string) {
		if name == "" {
			return
		}
		if _, done := img.Programs[name]; done {
			return
		}
		p, ok := files.LookPath(name, c.Path)
		fact := ProgramFact{Found: ok, Path: p}
		if ok {
			fact.Resolved, _ = files.Resolve(p)
		}
		img.Programs[name] = fact
	}
	h := c.Healthcheck
	switch h.Form {
	case FormCmd:
		add(h.Program)
	case FormShell:
		add(h.Program)
		for _, cmd := range h.Commands {
			add(cmd)
		}
	}
	if len(c.Entrypoint) > 0 {
		add(c.Entrypoint[0])
	} else if len(c.Command) > 0 {
		add(c.Command[0])
	}
	add("/bin/sh")
	sh := img.Programs["/bin/sh"].Found
	img.ShellFound = &sh
	img.Source = SourceIndex
	img.Error = ""
	d.Image = &img
	return d
}
