using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec;

internal static class FirmwareSection
{
    /// <summary><c>firmware: PATH</c> or <c>firmware: {path: CODE, vars: VARS}</c>.</summary>
    public static FirmwareSpec Read(YamlSpecReader reader, MappingView top)
    {
        var node = top.Required("firmware");
        if (node is YamlScalarNode)
        {
            return new FirmwareSpec(reader.ExistingFile(node, "firmware"), null, reader.LocationOf(node));
        }

        var map = reader.Mapping(node, "firmware", "path", "vars");
        var path = map.Required("path");
        return new FirmwareSpec(
            reader.ExistingFile(path, "firmware.path"),
            map.Optional("vars") is { } vars ? reader.ExistingFile(vars, "firmware.vars") : null,
            reader.LocationOf(path));
    }
}
