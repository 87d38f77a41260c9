using CocoLaunch.Abi;
using YamlDotNet.RepresentationModel;

namespace CocoLaunch.Spec;

internal static class SevSection
{
    /// <summary>QEMU's sev-guest default policy: NODBG (bit 0).</summary>
    public const uint DefaultPolicy = 0x1;

    /// <summary>Policy bit 2: the guest runs with encrypted register state (SEV-ES).</summary>
    public const uint PolicyEs = 0x4;

    public static SevSpec Defaults { get; } = new(VmmType.Qemu, null, DefaultPolicy);

    public static SevSpec Read(YamlSpecReader reader, YamlNode node, KvmVmType platform)
    {
        var map = reader.Mapping(node, "sev", [.. VcpuSection.Keys, "vmm-type", "policy"]);
        var vmm = map.Optional("vmm-type") is { } t ? reader.Choice(t, "sev.vmm-type", VcpuSection.VmmTypes) : VmmType.Qemu;
        var vcpu = VcpuSection.Read(reader, map, "sev");
        if (vcpu is null && vmm.IsQemu() && platform == KvmVmType.SevEs)
        {
            throw reader.Fail(node, "sev: a SEV-ES VMSA from QEMU carries the vCPU signature; give vcpu-type (e.g. EPYC-v4), vcpu-sig or vcpu-family/vcpu-model/vcpu-stepping");
        }

        bool es = platform == KvmVmType.SevEs;
        if (map.Optional("policy") is not { } p)
        {
            return new SevSpec(vmm, vcpu, es ? DefaultPolicy | PolicyEs : DefaultPolicy);
        }

        uint policy = (uint)reader.Int64InRange(p, "sev.policy", 0, uint.MaxValue);
        return (policy & PolicyEs) != 0 == es
            ? new SevSpec(vmm, vcpu, policy)
            : throw reader.Fail(p, es
                ? $"sev.policy: 0x{policy:x} lacks the ES bit (bit 2) that platform sev-es needs"
                : $"sev.policy: 0x{policy:x} sets the ES bit (bit 2); use platform sev-es for an SEV-ES guest");
    }
}
