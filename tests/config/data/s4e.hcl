# The S4E setup as a Vault Agent config.
vault {
  address = "https://vault.s4e.svc:8200"
}

auto_auth {
  method "kubernetes" {
    mount_path = "auth/kubernetes"
    config = {
      role = "s4e"
    }
  }
}

template {
  destination = "/vault/secrets/db"
  contents    = <<EOT
{{- with secret "s4e/data/database" -}}
export DB_HOST={{ .Data.data.host }}
export DB_PORT={{ .Data.data.port }}
export DB_NAME={{ .Data.data.name }}
export DB_USER={{ .Data.data.username }}
export DB_PASS={{ .Data.data.password }}
{{- end }}
EOT
}

template_config {
  exit_on_retry_failure = true
}
