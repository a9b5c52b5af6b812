package composefix

import (
	"errors"
	"fmt"
	"reflect"

	yaml "go.yaml.in/yaml/v4"
)

// verify checks that new differs from old exactly as expect says: both are
// decoded, expect changes the old value, and the two must be equal. It is
// the guard against text edits that meant one thing and did another.
func verify(old, new []byte, expect func(root any) error) error {
	var want, got any
	if err := yaml.Unmarshal(old, &want); err != nil {
		return err
	}
	if err := yaml.Unmarshal(new, &got); err != nil {
		return fmt.Errorf("the result would not be valid YAML: %w", err)
	}
	if err := expect(want); err != nil {
		return err
	}
	if !reflect.DeepEqual(want, got) {
		return errors.New("the result would change more than intended")
	}
	return nil
}

// serviceMap is services.<name> of a decoded document.
func serviceMap(root any, name string) (services, svc map[string]any, err error) {
	r, ok := root.(map[string]any)
	if !ok {
		return nil, nil, errors.New("the top level is not a mapping")
	}
	services, ok = r["services"].(map[string]any)
	if !ok {
		return nil, nil, errors.New("services is not a mapping")
	}
	svc, ok = services[name].(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("service %q is not a mapping", name)
	}
	return services, svc, nil
}
