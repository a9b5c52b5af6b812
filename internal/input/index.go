package input

// Lookup finds a program as runc would: a name with a slash is taken as a
// path in the image, any other is searched in the PATH directories. The
// image index (imageindex.Index.LookPath) implements it.
type Lookup func(name string, path []string) (found string, ok bool)

// WithIndex adds what the image's own files say about the programs the
// container will execute: the healthcheck's program (and, in shell form,
// the shell and the commands it runs), the entrypoint or command, and
// whether /bin/sh exists. Call it after WithCreate, since lookups use the
// container's effective PATH. These facts win over labels and the catalog.
func (d Document) WithIndex(look Lookup) Document {
	c, img := d.Container, *d.Image
	img.Programs = map[string]ProgramFact{}
	add := func(name string) {
		if name == "" {
			return
		}
		if _, done := img.Programs[name]; done {
			return
		}
		p, ok := look(name, c.Path)
		img.Programs[name] = ProgramFact{Found: ok, Path: p}
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
	_, sh := look("/bin/sh", c.Path)
	img.ShellFound = &sh
	img.Source = SourceIndex
	img.Error = ""
	d.Image = &img
	return d
}
