namespace CocoLaunch.Abi;

/// <summary>The <c>type</c> argument of <c>KVM_CREATE_VM</c> on x86 (<c>KVM_X86_*_VM</c>).</summary>
public enum KvmVmType : uint
{
    Default = 0,
    SwProtected = 1,
    Sev = 2,
    SevEs = 3,
    Snp = 4,
    Tdx = 5,
}

public static class KvmVmTypeExtensions
{
    /// <summary>Whether guest memory can be private (guest_memfd-backed and attribute-tracked).</summary>
    public static bool HasPrivateMemory(this KvmVmType type) =>
        type is KvmVmType.SwProtected or KvmVmType.Snp or KvmVmType.Tdx;

    /// <summary>
    /// The name users type for the VM type (a spec's <c>platform</c>, <c>--platform</c>): <c>default</c>, never the enum's
    /// <c>Default</c>, in every message and output.
    /// </summary>
    public static string Name(this KvmVmType type) => type switch
    {
        KvmVmType.Default => "default",
        KvmVmType.SwProtected => "sw-protected",
        KvmVmType.Sev => "sev",
        KvmVmType.SevEs => "sev-es",
        KvmVmType.Snp => "snp",
        KvmVmType.Tdx => "tdx",
        _ => $"type {(uint)type}",
    };

    /// <summary>Whether the VM's launch is measured by vendor firmware (a confidential-computing VM).</summary>
    public static bool IsConfidential(this KvmVmType type) =>
        type is KvmVmType.Sev or KvmVmType.SevEs or KvmVmType.Snp or KvmVmType.Tdx;
}
