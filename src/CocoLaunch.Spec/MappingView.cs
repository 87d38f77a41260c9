using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec;

/// <summary>A YAML mapping whose keys have been checked against an allowed set.</summary>
internal sealed class MappingView(
    YamlSpecReader reader,
    YamlMappingNode node,
    string key,
    Dictionary<string, (YamlScalarNode Key, YamlNode Value)> values)
{
    public YamlMappingNode Node { get; } = node;

    /// <summary>"snp.policy" for key "policy" inside "snp".</summary>
    public string PathOf(string name) => key.Length == 0 ? name : $"{key}.{name}";

    public bool Has(string name) => values.ContainsKey(name);

    public YamlNode? Optional(string name) => values.TryGetValue(name, out var kv) ? kv.Value : null;

    public YamlNode Required(string name) =>
        Optional(name) ?? throw reader.Fail(Node, key.Length == 0 ? $"missing required key '{name}'" : $"{key}: missing required key '{name}'");

    public YamlScalarNode KeyNode(string name) => values[name].Key;
}
