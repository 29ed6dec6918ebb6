package join

import "github.com/BurntSushi/toml"

func tomlDecode(s string, v map[string]any) error {
	_, err := toml.Decode(s, &v)
	return err
}
