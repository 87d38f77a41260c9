namespace CocoLaunch.Spec;

/// <summary>The vCPU identity keys shared by the snp and sev sections.</summary>
internal static class VcpuSection
{
    public static readonly string[] Keys = ["vcpu-type", "vcpu-sig", "vcpu-family", "vcpu-model", "vcpu-stepping"];

    public static readonly IReadOnlyDictionary<string, VmmType> VmmTypes = new Dictionary<string, VmmType>(StringComparer.Ordinal)
    {
        ["QEMU"] = VmmType.Qemu,
        ["ec2"] = VmmType.Ec2,
        ["gce"] = VmmType.Gce,
        ["qemu-legacy-init"] = VmmType.QemuLegacyInit,
        ["ec2-rdx0"] = VmmType.Ec2Rdx0,
    };

    /// <summary>Reads one of: vcpu-type, vcpu-sig, or vcpu-family + vcpu-model + vcpu-stepping.</summary>
    public static VcpuIdentity? Read(YamlSpecReader reader, MappingView map, string section)
    {
        string[] given = Keys.Where(map.Has).ToArray();
        bool byFms = given.Any(k => k is "vcpu-family" or "vcpu-model" or "vcpu-stepping");
        int forms = (map.Has("vcpu-type") ? 1 : 0) + (map.Has("vcpu-sig") ? 1 : 0) + (byFms ? 1 : 0);
        if (forms > 1)
        {
            // Point at the first key, in file order, that starts a second form.
            static int Form(string key) => key switch { "vcpu-type" => 0, "vcpu-sig" => 1, _ => 2 };
            var inFileOrder = given.OrderBy(k => map.KeyNode(k).Start.Index).ToList();
            string clash = inFileOrder.First(k => Form(k) != Form(inFileOrder[0]));
            throw reader.Fail(map.KeyNode(clash), $"{section}: give only one of vcpu-type, vcpu-sig or vcpu-family/vcpu-model/vcpu-stepping");
        }

        if (map.Optional("vcpu-type") is { } type)
        {
            string name = reader.String(type, section + ".vcpu-type");
            return VcpuModels.Signatures.TryGetValue(name, out uint sig)
                ? new VcpuIdentity(sig, name)
                : throw reader.Fail(type, $"{section}.vcpu-type: unknown CPU model '{name}' (known: {string.Join(", ", VcpuModels.Signatures.Keys)})");
        }

        if (map.Optional("vcpu-sig") is { } sigNode)
        {
            return new VcpuIdentity((uint)reader.Int64InRange(sigNode, section + ".vcpu-sig", 0, uint.MaxValue), null);
        }

        if (!byFms)
        {
            return null;
        }

        uint family = (uint)reader.Int64InRange(map.Required("vcpu-family"), section + ".vcpu-family", 0, 15 + 0xFF);
        uint model = (uint)reader.Int64InRange(map.Required("vcpu-model"), section + ".vcpu-model", 0, 0xFF);
        uint stepping = (uint)reader.Int64InRange(map.Required("vcpu-stepping"), section + ".vcpu-stepping", 0, 0xF);
        return new VcpuIdentity(VcpuModels.Signature(family, model, stepping), null);
    }
}
