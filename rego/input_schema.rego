# METADATA
# title: Type of the input document
# description: >-
#   Types `input` in every package under hardened (the rule families under
#   hardened.rules and hardened.requests, a user's own included, the
#   library, main and the test fixtures) with rego/schemas/input.json, the
#   JSON Schema generated from the Go types of internal/input. With the
#   schema loaded (`opa check --strict --schema rego/schemas`, and the
#   engine of `authz serve` and `authz check`), a rule that reads a field
#   the document does not have, such as input.container.helthcheck, fails
#   to compile instead of never matching. Without it (`opa test`) this
#   annotation has no effect.
# scope: subpackages
# schemas:
#   - input: schema.input
package hardened
