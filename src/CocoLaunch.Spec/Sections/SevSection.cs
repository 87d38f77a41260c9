using CocoLaunch.Abi;
using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec;

internal static class SevSection
{
    /// <summary>QEMU's sev-guest default policy: NODBG (bit 0).</summary>
    public const uint DefaultPolicy = 0x1;

    public static SevSpec Defaults { get; } = new(VmmType.Qemu, null, DefaultPolicy);

    public static SevSpec Read(YamlSpecReader reader, YamlNode node, KvmVmType platform)
    {
        var map = reader.Mapping(node, "sev", [.. VcpuSection.Keys, "vmm-type", "policy"]);
        var vmm = map.Optional("vmm-type") is { } t ? reader.Choice(t, "sev.vmm-type", VcpuSection.VmmTypes) : VmmType.Qemu;
        var vcpu = VcpuSection.Read(reader, map, "sev");
        if (vcpu is null && vmm == VmmType.Qemu && platform == KvmVmType.SevEs)
        {
            throw reader.Fail(node, "sev: a SEV-ES VMSA from QEMU carries the vCPU signature; give vcpu-type (e.g. EPYC-v4), vcpu-sig or vcpu-family/vcpu-model/vcpu-stepping");
        }

        uint policy = map.Optional("policy") is { } p ? (uint)reader.Int64InRange(p, "sev.policy", 0, uint.MaxValue) : DefaultPolicy;
        return new SevSpec(vmm, vcpu, policy);
    }
}
