package input

import (
	"reflect"
	"testing"

	"github.com/hardened-authz/hardened-authz/internal/imagefacts"
	"github.com/hardened-authz/hardened-authz/internal/imageindex"
)

// runtimeImage is a usr-merged image: /bin and /sbin link to /usr, curl and
// sh in /usr/bin, an app with its healthcheck in /app, and a dangling
// corner or two.
func runtimeImage() *imageindex.Index {
	dir := imageindex.Entry{Type: imageindex.TypeDir, Mode: 0o755}
	exe := imageindex.Entry{Type: imageindex.TypeRegular, Mode: 0o755}
	return imageindex.FromEntries(map[string]imageindex.Entry{
		"/usr":                dir,
		"/usr/bin":            dir,
		"/usr/bin/curl":       exe,
		"/usr/bin/cat":        exe,
		"/usr/bin/dash":       exe,
		"/usr/bin/sh":         {Type: imageindex.TypeSymlink, Link: "dash"},
		"/bin":                {Type: imageindex.TypeSymlink, Link: "usr/bin"},
		"/usr/local":          dir,
		"/usr/local/bin":      dir,
		"/usr/local/bin/node": exe,
		"/app":                dir,
		"/app/healthcheck":    exe,
		"/app/bin":            dir,
		"/app/bin/tool":       exe,
		"/tmp":                dir,
	})
}

func curlImage() imagefacts.Facts {
	img := imagefacts.Named("dhi.io/curl:8")
	img.Source, img.Found = imagefacts.SourceDaemon, true
	img.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	img.Entrypoint, img.Cmd = []string{"curl"}, []string{"--help"}
	return img
}

func indexed(t *testing.T, body string, img imagefacts.Facts) Document {
	t.Helper()
	return build(t, body, img).WithIndex(runtimeImage())
}

func TestPathUnsetAndDuplicates(t *testing.T) {
	img := curlImage()
	for _, tc := range []struct {
		env  string
		want []string
	}{
		// A bare PATH unsets it: the image's PATH is not merged in (its key
		// is named) and the default is removed too.
		{`["PATH"]`, []string{}},
		{`["PATH=/a","PATH"]`, []string{}},
		{`["PATH","PATH=/b"]`, []string{"/b"}},
		{`["PATH=/a","PATH=/b"]`, []string{"/b"}},
		{`["PATH="]`, []string{}},
		// Empty entries are the working directory to exec.LookPath.
		{`["PATH=:/usr/bin:"]`, []string{".", "/usr/bin", "."}},
		// No PATH in the request: the image's.
		{`["A=1"]`, []string{"/usr/local/bin", "/usr/bin", "/bin"}},
	} {
		d := build(t, `{"Image":"x","Env":`+tc.env+`}`, img)
		if !reflect.DeepEqual(d.Container.Path, tc.want) {
			t.Errorf("Env %s: path = %q, want %q", tc.env, d.Container.Path, tc.want)
		}
	}
	// A bare PATH in the image alone unsets it as well.
	img.Env = []string{"PATH"}
	if d := build(t, `{"Image":"x"}`, img); len(d.Container.Path) != 0 {
		t.Errorf("image Env [PATH]: path = %q, want none", d.Container.Path)
	}
}

func TestUnsetPathHidesExecHealthcheckProgram(t *testing.T) {
	d := indexed(t, `{"Image":"x","Env":["PATH"],"Healthcheck":{"Test":["CMD","curl","-f","http://localhost/"]}}`, curlImage())
	if f := d.Image.Programs["curl"]; f.Found {
		t.Errorf("curl with PATH unset = %+v, want not found", f)
	}
	// An absolute program needs no PATH.
	d = indexed(t, `{"Image":"x","Env":["PATH"],"Healthcheck":{"Test":["CMD","/usr/bin/curl","-f","http://localhost/"]}}`, curlImage())
	if f := d.Image.Programs["/usr/bin/curl"]; !f.Found {
		t.Errorf("/usr/bin/curl with PATH unset = %+v, want found", f)
	}
}

func TestRelativePathEntryIsRefused(t *testing.T) {
	// From /usr, "bin" holds curl: exec.LookPath returns ErrDot and runc
	// fails, even though /usr/bin comes later.
	d := indexed(t, `{"Image":"x","WorkingDir":"/usr","Env":["PATH=bin:/usr/bin"],"Healthcheck":{"Test":["CMD","curl"]}}`, curlImage())
	if f := d.Image.Programs["curl"]; f.Found || !f.Relative || f.Path != "bin/curl" {
		t.Errorf("curl through a relative PATH entry = %+v, want refused as relative", f)
	}
	// A relative entry that does not hold it is passed over.
	d = indexed(t, `{"Image":"x","Env":["PATH=:nope:/usr/bin"],"Healthcheck":{"Test":["CMD","curl"]}}`, curlImage())
	if f := d.Image.Programs["curl"]; !f.Found || f.Path != "/usr/bin/curl" {
		t.Errorf("curl past relative entries = %+v, want /usr/bin/curl", f)
	}
}

func TestProgramsFromTheWorkingDirectory(t *testing.T) {
	img := curlImage()
	img.WorkingDir = "/app"
	// The image's WORKDIR /app: ./healthcheck is /app/healthcheck.
	d := indexed(t, `{"Image":"x","Healthcheck":{"Test":["CMD","./healthcheck"]}}`, img)
	if d.Container.WorkingDir != "/app" {
		t.Errorf("working_dir = %q, want the image's /app", d.Container.WorkingDir)
	}
	if f := d.Image.Programs["./healthcheck"]; !f.Found || f.Path != "/app/healthcheck" {
		t.Errorf("./healthcheck in /app = %+v, want found at /app/healthcheck", f)
	}
	d = indexed(t, `{"Image":"x","Healthcheck":{"Test":["CMD","bin/tool"]}}`, img)
	if f := d.Image.Programs["bin/tool"]; !f.Found {
		t.Errorf("bin/tool in /app = %+v, want found", f)
	}
	// The request's WorkingDir wins: from /tmp, bin/cat is /tmp/bin/cat.
	d = indexed(t, `{"Image":"x","WorkingDir":"/tmp/","Healthcheck":{"Test":["CMD","bin/cat"]}}`, img)
	if d.Container.WorkingDir != "/tmp" {
		t.Errorf("working_dir = %q, want /tmp", d.Container.WorkingDir)
	}
	if f := d.Image.Programs["bin/cat"]; f.Found {
		t.Errorf("bin/cat from /tmp = %+v, want not found", f)
	}
	// No working directory anywhere: "/", where bin/cat is /bin/cat.
	d = indexed(t, `{"Image":"x","Healthcheck":{"Test":["CMD","bin/cat"]}}`, curlImage())
	if d.Container.WorkingDir != "/" {
		t.Errorf("working_dir = %q, want /", d.Container.WorkingDir)
	}
	if f := d.Image.Programs["bin/cat"]; !f.Found || f.Resolved != "/usr/bin/cat" {
		t.Errorf("bin/cat from / = %+v, want found", f)
	}
}

func TestEmptyEntrypointResets(t *testing.T) {
	// docker run --entrypoint "" dhi.io/curl:8 sleep infinity: no
	// entrypoint, and the container runs sleep, which the image lacks.
	d := indexed(t, `{"Image":"x","Entrypoint":[""],"Cmd":["sleep","infinity"]}`, curlImage())
	if len(d.Container.Entrypoint) != 0 || !reflect.DeepEqual(d.Container.Command, []string{"sleep", "infinity"}) {
		t.Errorf("entrypoint %q command %q, want none and sleep infinity", d.Container.Entrypoint, d.Container.Command)
	}
	if f, ok := d.Image.Programs["sleep"]; !ok || f.Found {
		t.Errorf("sleep = %+v (%v), want looked up and not found", f, ok)
	}
	// Entrypoint [""] keeps the image's command out too.
	d = build(t, `{"Image":"x","Entrypoint":[""]}`, curlImage())
	if len(d.Container.Entrypoint) != 0 || len(d.Container.Command) != 0 {
		t.Errorf("entrypoint %q command %q, want neither", d.Container.Entrypoint, d.Container.Command)
	}
	// Cmd [""] is no reset: the image's entrypoint gets the argument "".
	d = build(t, `{"Image":"x","Cmd":[""]}`, curlImage())
	if !reflect.DeepEqual(d.Container.Entrypoint, []string{"curl"}) || !reflect.DeepEqual(d.Container.Command, []string{""}) {
		t.Errorf("entrypoint %q command %q, want curl \"\"", d.Container.Entrypoint, d.Container.Command)
	}
}

func TestMountsOfARequest(t *testing.T) {
	d := build(t, `{"Image":"x","HostConfig":{
		"Binds":["/srv/tools:/opt/tools:ro","data:/var/lib/data","/anon/"],
		"Mounts":[{"Type":"volume","Target":"/cache"},{"Type":"tmpfs","Target":"/run/x/"}],
		"Tmpfs":{"/usr/bin":"rw,size=64k"}}}`, curlImage())
	want := []Mount{
		{Target: "/anon", Type: MountVolume},
		{Target: "/cache", Type: MountVolume},
		{Target: "/opt/tools", Type: MountBind},
		{Target: "/run/x", Type: MountTmpfs},
		{Target: "/usr/bin", Type: MountTmpfs},
		{Target: "/var/lib/data", Type: MountVolume},
	}
	if !reflect.DeepEqual(d.Container.Mounts, want) {
		t.Errorf("mounts = %+v\nwant %+v", d.Container.Mounts, want)
	}
	if d := build(t, `{"Image":"x"}`, curlImage()); d.Container.Mounts == nil {
		t.Error("mounts is nil, want []")
	}
}

func TestTmpfsHidesTheImagesProgram(t *testing.T) {
	for _, target := range []string{"/usr/bin", "/bin", "/usr"} {
		d := indexed(t, `{"Image":"x","HostConfig":{"Tmpfs":{"`+target+`":""}},"Healthcheck":{"Test":["CMD","curl","-f","http://localhost/"]}}`, curlImage())
		f := d.Image.Programs["curl"]
		if f.Found || f.Unknown || f.HiddenBy != target {
			t.Errorf("tmpfs %s: curl = %+v, want missing, hidden by %s", target, f, target)
		}
	}
	// A tmpfs elsewhere changes nothing; one over /usr/local hides node
	// only.
	d := indexed(t, `{"Image":"x","HostConfig":{"Tmpfs":{"/usr/local":""}},"Healthcheck":{"Test":["CMD-SHELL","curl x && node y"]}}`, curlImage())
	if f := d.Image.Programs["curl"]; !f.Found || f.HiddenBy != "" {
		t.Errorf("curl = %+v, want found", f)
	}
	if f := d.Image.Programs["node"]; f.Found || f.HiddenBy != "/usr/local" {
		t.Errorf("node = %+v, want hidden by /usr/local", f)
	}
	// A tmpfs over /bin (a link to /usr/bin) hides /bin/sh too.
	d = indexed(t, `{"Image":"x","HostConfig":{"Tmpfs":{"/bin":""}}}`, curlImage())
	if d.Image.ShellFound == nil || *d.Image.ShellFound {
		t.Errorf("shell_found = %v, want false", d.Image.ShellFound)
	}
}

func TestBindOrVolumeMakesTheProgramUnknown(t *testing.T) {
	for _, body := range []string{
		`{"Binds":["/host/bin:/usr/bin:ro"]}`,
		`{"Binds":["tools:/usr/bin"]}`,
		`{"Mounts":[{"Type":"bind","Source":"/x","Target":"/usr/bin"}]}`,
		`{"Mounts":[{"Type":"volume","Target":"/bin"}]}`,
	} {
		d := indexed(t, `{"Image":"x","HostConfig":`+body+`,"Healthcheck":{"Test":["CMD","curl"]}}`, curlImage())
		f := d.Image.Programs["curl"]
		if f.Found || !f.Unknown || f.HiddenBy == "" {
			t.Errorf("%s: curl = %+v, want unknown", body, f)
		}
	}
	// A bind over a PATH directory where the image has nothing may bring
	// the program: unknown, not missing.
	d := indexed(t, `{"Image":"x","HostConfig":{"Binds":["/opt/jq:/usr/local/bin"]},"Healthcheck":{"Test":["CMD","jq","."]}}`, curlImage())
	if f := d.Image.Programs["jq"]; !f.Unknown || f.HiddenBy != "/usr/local/bin" {
		t.Errorf("jq = %+v, want unknown, hidden by /usr/local/bin", f)
	}
	// A deeper tmpfs inside a bind decides for its own files.
	d = indexed(t, `{"Image":"x","HostConfig":{"Binds":["/h:/usr"],"Tmpfs":{"/usr/bin":""}},"Healthcheck":{"Test":["CMD","/usr/bin/curl"]}}`, curlImage())
	if f := d.Image.Programs["/usr/bin/curl"]; f.Found || f.Unknown || f.HiddenBy != "/usr/bin" {
		t.Errorf("/usr/bin/curl = %+v, want hidden by the tmpfs", f)
	}
	// A bind over /bin leaves shell_found unset.
	d = indexed(t, `{"Image":"x","HostConfig":{"Binds":["/h:/usr/bin"]}}`, curlImage())
	if d.Image.ShellFound != nil {
		t.Errorf("shell_found = %v, want unset", *d.Image.ShellFound)
	}
}

// permImage holds a 0700 root:root program and one a non-root user may run.
func permImage() *imageindex.Index {
	dir := imageindex.Entry{Type: imageindex.TypeDir, Mode: 0o755}
	return imageindex.FromEntries(map[string]imageindex.Entry{
		"/usr":           dir,
		"/usr/bin":       dir,
		"/usr/bin/probe": {Type: imageindex.TypeRegular, Mode: 0o700},
		"/usr/bin/curl":  {Type: imageindex.TypeRegular, Mode: 0o755},
		"/bin":           {Type: imageindex.TypeSymlink, Link: "usr/bin"},
		"/usr/local":     dir,
		"/usr/local/bin": dir,
	}).WithAccounts(imageindex.Accounts{Passwd: []byte("root:x:0:0::/root:/bin/sh\nnonroot:x:65532:65532::/:/bin/sh\n")})
}

func TestProgramNotExecutableByUser(t *testing.T) {
	img := curlImage()
	for _, tc := range []struct {
		body, name string
		found      bool
		who        string
	}{
		{`{"Image":"x","User":"65532","Healthcheck":{"Test":["CMD","/usr/bin/probe"]}}`, "/usr/bin/probe", false, "uid 65532"},
		{`{"Image":"x","User":"nonroot","Healthcheck":{"Test":["CMD","probe"]}}`, "probe", false, "uid 65532"},
		{`{"Image":"x","User":"root","Healthcheck":{"Test":["CMD","/usr/bin/probe"]}}`, "/usr/bin/probe", true, ""},
		{`{"Image":"x","Healthcheck":{"Test":["CMD","/usr/bin/probe"]}}`, "/usr/bin/probe", true, ""},
		{`{"Image":"x","User":"65532","Healthcheck":{"Test":["CMD","/usr/bin/curl"]}}`, "/usr/bin/curl", true, ""},
		// More groups than the image says: no permission facts, found.
		{`{"Image":"x","User":"65532","Healthcheck":{"Test":["CMD","/usr/bin/probe"]},"HostConfig":{"GroupAdd":["0"]}}`, "/usr/bin/probe", true, ""},
		// A name the image does not know: no permission facts, found.
		{`{"Image":"x","User":"ghost","Healthcheck":{"Test":["CMD","/usr/bin/probe"]}}`, "/usr/bin/probe", true, ""},
	} {
		d := build(t, tc.body, img).WithIndex(permImage())
		f := d.Image.Programs[tc.name]
		if f.Found != tc.found || f.NotExecutableBy != tc.who {
			t.Errorf("%s: %s = %+v, want found %v, not_executable_by %q", tc.body, tc.name, f, tc.found, tc.who)
		}
	}
	// The image's user applies when the request names none.
	img.User = "65532"
	d := build(t, `{"Image":"x","Healthcheck":{"Test":["CMD","/usr/bin/probe"]}}`, img).WithIndex(permImage())
	if f := d.Image.Programs["/usr/bin/probe"]; f.Found || f.NotExecutableBy != "uid 65532" {
		t.Errorf("image user 65532: probe = %+v, want not executable", f)
	}
}
