package authz

import "github.com/moby/moby/api/types/container"

type imagefactsHealth = container.HealthConfig
