using CocoLaunch.Formats;
using CocoLaunch.Kvm;
using CocoLaunch.Spec;

namespace CocoLaunch.Vmm.Launch;

/// <summary>Everything the recipe's steps build up, in the order they build it.</summary>
public sealed class LaunchContext(LaunchSpec spec, FirmwareImage firmware)
{
    public LaunchSpec Spec { get; } = spec;

    public FirmwareImage Firmware { get; } = firmware;

    public Kvm.Kvm Kvm { get; } = new();

    public VmFd? Vm { get; internal set; }

    public List<VcpuFd> Vcpus { get; } = [];

    public IReadOnlyList<PlannedSlot> Layout { get; internal set; } = [];

    /// <summary>The GPA ranges pre-faulted, in order: what the exact-range rule promises the dump covers.</summary>
    public List<(Abi.Gpa Gpa, ulong Size)> PreFaulted { get; } = [];

    public VmFd RequireVm() => Vm ?? throw new InvalidOperationException("the VM has not been created yet");
}
