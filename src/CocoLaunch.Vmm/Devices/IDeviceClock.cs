namespace CocoLaunch.Vmm.Devices;

/// <summary>Virtual time, in nanoseconds since the machine was created (deterministic: derived from the vCPU's TSC).</summary>
public interface IDeviceClock
{
    ulong Nanoseconds { get; }
}
