using System.Diagnostics.CodeAnalysis;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Firmware.Tdx;

namespace CocoLaunch.Kvm;

/// <summary>Guest-physical memory for the module's TDCALL buffers: private pages must be mapped (accepted); shared ones are the host's.</summary>
internal sealed class TdMemory(VmFd vm, TdxTd td) : ITdGuestMemory
{
    private const ulong Page = PageSize.Size4K;

    public bool TryRead(ulong gpa, Span<byte> destination)
    {
        if (!Access(gpa, destination.Length, out var store, out ulong plain))
        {
            return false;
        }

        store.Read(plain, destination);
        return true;
    }

    public bool TryWrite(ulong gpa, ReadOnlySpan<byte> source)
    {
        if (!Access(gpa, source.Length, out var store, out ulong plain))
        {
            return false;
        }

        store.Write(plain, source);
        return true;
    }

    private bool Access(ulong gpa, int length, [NotNullWhen(true)] out IGuestPageBacking? store, out ulong plain)
    {
        ulong shared = 1UL << td.SharedBit;
        bool isPrivate = (gpa & shared) == 0;
        plain = gpa & ~shared;
        store = null;
        if ((plain % Page) + (ulong)length > Page || vm.Slots.Find(plain / Page) is null)
        {
            return false;
        }

        if (isPrivate && td.StateOf(new Gpa(plain & ~(Page - 1))) != SeptState.Mapped)
        {
            return false;
        }

        if (!isPrivate && vm.AttributesOf(plain / Page).HasFlag(KvmMemoryAttributes.Private))
        {
            return false;
        }

        store = vm.BackingStore(plain / Page, isPrivate);
        return true;
    }
}
