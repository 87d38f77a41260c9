using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec;

internal static class FirmwareSection
{
    /// <summary><c>firmware: PATH</c>, <c>firmware: {path: CODE, vars: VARS}</c> or <c>firmware: {igvm: FILE.igvm}</c>.</summary>
    public static FirmwareSpec Read(YamlSpecReader reader, MappingView top)
    {
        var node = top.Required("firmware");
        if (node is YamlScalarNode)
        {
            return new FirmwareSpec(reader.ExistingFile(node, "firmware"), null, reader.LocationOf(node));
        }

        var map = reader.Mapping(node, "firmware", "path", "vars", "igvm");
        if (map.Optional("igvm") is { } igvm)
        {
            // An IGVM file is the whole launch image: its directives place every page, so there is no separate VARS file.
            string? other = map.Has("path") ? "path" : map.Has("vars") ? "vars" : null;
            return other is null
                ? new FirmwareSpec(reader.ExistingFile(igvm, "firmware.igvm"), null, reader.LocationOf(igvm), IsIgvm: true)
                : throw reader.Fail(map.KeyNode(other), $"firmware.{other}: given with firmware.igvm; an IGVM file carries every page the launch loads, so name either the IGVM file or a flash image");
        }

        var path = map.Required("path");
        return new FirmwareSpec(
            reader.ExistingFile(path, "firmware.path"),
            map.Optional("vars") is { } vars ? reader.ExistingFile(vars, "firmware.vars") : null,
            reader.LocationOf(path));
    }

    /// <summary>The snp keys an IGVM file decides: its VMSAs carry the vCPU's identity and guest features, and QEMU's loader is the VMM.</summary>
    public static readonly string[] SnpKeysFromIgvm = [.. VcpuSection.Keys, "guest-features", "vmm-type", "id-block", "id-auth", "svsm"];

    /// <summary>
    /// What an IGVM firmware rules out: platforms other than snp and tdx, a direct-boot kernel, and the snp keys the
    /// file decides (<see cref="SnpKeysFromIgvm"/>). The spec keeps what QEMU's command line keeps beside igvm-cfg:
    /// the policy, host data, vCPU count, memory and the TD's attributes.
    /// </summary>
    public static void CheckIgvm(YamlSpecReader reader, MappingView top, Abi.KvmVmType platform)
    {
        if (platform is not (Abi.KvmVmType.Snp or Abi.KvmVmType.Tdx))
        {
            throw reader.Fail(top.Required("firmware"), "firmware.igvm: only platforms snp and tdx launch from an IGVM file");
        }

        if (top.Has("kernel"))
        {
            throw reader.Fail(top.KeyNode("kernel"), "kernel: given with firmware.igvm; an IGVM file is the whole launch image, so package the kernel into it");
        }

        if (top.Optional("snp") is YamlMappingNode snp
            && snp.Children.Keys.OfType<YamlScalarNode>().FirstOrDefault(k => SnpKeysFromIgvm.Contains(k.Value)) is { } key)
        {
            throw reader.Fail(key, $"snp.{key.Value}: given with firmware.igvm, whose file decides it (the VMSAs, the ID block and the pages are the file's, loaded as QEMU's IGVM loader loads them)");
        }
    }
}
