using CocoLaunch.Vmm.Devices;

namespace CocoLaunch.Vmm.Tests.Devices;

/// <summary>Virtual time a test moves by hand.</summary>
internal sealed class ManualClock : IDeviceClock
{
    public ulong Nanoseconds { get; set; }

    public void Advance(ulong nanoseconds) => Nanoseconds += nanoseconds;
}
